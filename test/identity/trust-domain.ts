/**
 * A test SPIFFE trust domain that follows the JWT-SVID standard exactly: ES256/RS256 keys
 * published with `use: "jwt-svid"` and a `kid`, SVIDs with `sub`, `aud` and `exp`.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { exportJWK, SignJWT, type JWK } from 'jose';
import type { TrustBundleDocument } from '../../src/identity/trust-bundle.js';

export interface TestTrustDomain {
  readonly name: string;
  bundle(extra?: { refreshHint?: number }): TrustBundleDocument;
  /** Signs a JWT-SVID; every part can be bent for attacks. */
  svid(sub: string, options?: SvidOptions): Promise<string>;
  /** Adds a new current key; the old one stays in the bundle unless `drop`. */
  rotate(drop?: boolean): Promise<string>;
  readonly kid: string;
}

export interface SvidOptions {
  aud?: string | string[] | null;
  /** Seconds from `now`; null omits exp. */
  ttl?: number | null;
  now?: number;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  alg?: string;
  key?: KeyObject;
  kid?: string;
}

interface Entry {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateKey: KeyObject;
  jwk: JWK;
}

let counter = 0;

async function newEntry(alg: 'ES256' | 'RS256'): Promise<Entry> {
  const { privateKey, publicKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `k${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, use: 'jwt-svid' } };
}

export async function createTestTrustDomain(
  name: string,
  options: { alg?: 'ES256' | 'RS256'; clock: () => number; audience: string },
): Promise<TestTrustDomain> {
  const alg = options.alg ?? 'ES256';
  const entries: Entry[] = [await newEntry(alg)];
  const current = (): Entry => entries[entries.length - 1]!;
  return {
    name,
    get kid() {
      return current().kid;
    },
    bundle(extra = {}) {
      return {
        keys: entries.map((e) => ({ ...e.jwk })),
        ...(extra.refreshHint === undefined ? {} : { spiffe_refresh_hint: extra.refreshHint }),
        spiffe_sequence: entries.length,
      };
    },
    async svid(sub, o = {}) {
      const e = current();
      const now = o.now ?? Math.floor(options.clock() / 1000);
      const claims: Record<string, unknown> = { sub, iat: now };
      if (o.aud !== null) claims.aud = o.aud ?? options.audience;
      if (o.ttl !== null) claims.exp = now + (o.ttl ?? 300);
      const header = { alg: o.alg ?? e.alg, kid: o.kid ?? e.kid, typ: 'JWT', ...o.header };
      for (const [k, v] of Object.entries(header)) if (v === undefined) delete (header as Record<string, unknown>)[k];
      return new SignJWT({ ...claims, ...o.claims }).setProtectedHeader(header as { alg: string }).sign(o.key ?? e.privateKey);
    },
    async rotate(drop = false) {
      const next = await newEntry(alg);
      if (drop) entries.splice(0, entries.length);
      entries.push(next);
      return next.kid;
    },
  };
}
