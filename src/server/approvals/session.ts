/**
 * Sealed cookies for the approvals inbox: the approver's session and the short-lived sign-in
 * state (OAuth state, nonce, PKCE verifier). Both are AES-256-GCM sealed with keys derived from
 * one server secret, so any process holding the secret can read them (several processes serve
 * one inbox) and nobody else can read or forge them. Each kind has its own key, so one kind of
 * cookie can never be replayed as the other.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export type CookieKind = 'session' | 'login';

/** The derived keys of one server secret. */
export interface SealKeys {
  readonly session: Buffer;
  readonly login: Buffer;
  readonly csrf: Buffer;
}

/** Derives independent keys from the inbox's secret (at least 32 bytes). */
export function deriveKeys(secret: string | Uint8Array): SealKeys {
  const ikm = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (ikm.length < 32) throw new RangeError('sessionSecret must be at least 32 bytes (e.g. 32 random bytes, base64url)');
  const key = (label: string): Buffer => Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), `tessera approvals inbox ${label}`, 32));
  return { session: key('session'), login: key('login'), csrf: key('csrf') };
}

/** Seals a JSON value: `v1.<iv>.<ciphertext>.<tag>`, base64url. The kind is bound as associated data. */
export function seal(keys: SealKeys, kind: CookieKind, value: unknown): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keys[kind], iv);
  cipher.setAAD(Buffer.from(kind));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

const PART = /^[A-Za-z0-9_-]+$/;

/** Opens a sealed value; undefined when it was not sealed by this secret for this kind. Never throws. */
export function unseal(keys: SealKeys, kind: CookieKind, sealed: string | undefined): unknown {
  if (sealed === undefined || sealed.length > 4096) return undefined;
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1' || !parts.slice(1).every((p) => PART.test(p))) return undefined;
  try {
    const iv = Buffer.from(parts[1]!, 'base64url');
    const tag = Buffer.from(parts[3]!, 'base64url');
    if (iv.length !== 12 || tag.length !== 16) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', keys[kind], iv, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(kind));
    decipher.setAuthTag(tag);
    const text = Buffer.concat([decipher.update(Buffer.from(parts[2]!, 'base64url')), decipher.final()]).toString('utf8');
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The signed-in approver, as the session cookie carries it. */
export interface InboxSession {
  /** Random per sign-in; CSRF tokens are bound to it. */
  readonly sid: string;
  /** `<iss>#<sub>`: the same form an OIDC agent identity takes, so "own agent" compares like with like. */
  readonly id: string;
  readonly issuer: string;
  /** A display name from the ID token (name, email or sub). */
  readonly name: string;
  /** ID token claims a grant-policy role may match (groups, roles, email...), never the token. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** ms since epoch. */
  readonly expiresAt: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a session cookie; undefined when absent, forged, malformed or expired at `now`. */
export function readSession(keys: SealKeys, cookie: string | undefined, now: number): InboxSession | undefined {
  const v = unseal(keys, 'session', cookie);
  if (!isRecord(v)) return undefined;
  const { sid, id, issuer, name, attributes, expiresAt } = v;
  if (typeof sid !== 'string' || typeof id !== 'string' || typeof issuer !== 'string' || typeof name !== 'string') return undefined;
  if (!isRecord(attributes) || typeof expiresAt !== 'number' || !(expiresAt > now)) return undefined;
  return { sid, id, issuer, name, attributes, expiresAt };
}

/** What the login cookie carries between /login and /callback. */
export interface LoginState {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly expiresAt: number;
  /** The request a notification linked to, shown first once signed in. */
  readonly focus?: string;
}

export function readLoginState(keys: SealKeys, cookie: string | undefined, now: number): LoginState | undefined {
  const v = unseal(keys, 'login', cookie);
  if (!isRecord(v)) return undefined;
  const { state, nonce, verifier, expiresAt, focus } = v;
  if (typeof state !== 'string' || typeof nonce !== 'string' || typeof verifier !== 'string') return undefined;
  if (typeof expiresAt !== 'number' || !(expiresAt > now)) return undefined;
  return typeof focus === 'string' ? { state, nonce, verifier, expiresAt, focus } : { state, nonce, verifier, expiresAt };
}

/** Cookie names and attributes: `__Host-` and Secure on https; plain names on loopback http, where browsers refuse Secure cookies' prefix rules. */
export function cookieNames(secure: boolean): { session: string; login: string } {
  return secure ? { session: '__Host-tessera-approver', login: '__Host-tessera-login' } : { session: 'tessera-approver', login: 'tessera-login' };
}
