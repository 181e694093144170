/**
 * Capability verification (RFC 8725): explicit algorithms, exact `typ`, the issuer owns the key,
 * `aud` required, bounded clock skew, nothing fetched from a URL named in the token. Each
 * verified capability is compiled once (constraints, lookups) and cached until it expires.
 */
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { CapabilityError, type DenialCode } from '../errors.js';
import type { Clock } from '../util/time.js';
import { describeIssues } from '../util/zod-issues.js';
import { CAPABILITY_TYP } from '../jose/typ.js';
import { capabilityClaimsSchema, issuedAtMs as issuedAtMsOf, type CapabilityClaims, type Intent, type RetrievalBound, type ToolGrant } from './claims.js';
import { compileFields } from './constraints.js';
import type { JWKS } from '../jose/keys.js';
import { compactJwsProblem } from '../jose/compact-jws.js';
import { explainJoseFailure, type JoseFailureTable } from '../jose/explain-failure.js';
import {
  createIssuerKeySet,
  fetchJwks,
  KeySourceError,
  DEFAULT_MAX_STALE_MS,
  DEFAULT_REFRESH_INTERVAL_MS,
  type IssuerKeySet,
  type KeyRefreshOptions,
  type KeySnapshot,
} from './trusted-keys.js';
import { createTokenDigest, createVerifyCache, DEFAULT_VERIFY_CACHE_BYTES, type CacheSlot } from './verify-cache.js';

/**
 * One trusted authority: its exact `iss` and its public keys. A key set given as a function or
 * URL is fetched again every `refreshIntervalMs` (default 5 minutes) and when a token names an
 * unknown `kid`; a key removed from it stops verifying capabilities, cached ones included, from
 * the next fetch on.
 */
export interface TrustedIssuer extends KeyRefreshOptions {
  issuer: string;
  /**
   * Public keys: a JWKS object, a function returning the current JWKS (asked again when a token
   * names an unknown `kid`), or a configured `new URL("https://…")` (never a URL taken from a token). Absent,
   * `issuer` must be an HTTPS URL (`http:` only on 127.0.0.1 or localhost) and the keys come from
   * the `jwks_uri` of its RFC 8414 metadata, then follow the same refresh rules as a URL.
   */
  jwks?: JWKS | (() => JWKS | Promise<JWKS>) | URL;
  /** Algorithms accepted from this issuer; default `['EdDSA', 'ES256']`. HS* and `none` are refused. */
  algorithms?: string[];
}

export interface CompiledGrant {
  readonly name: string;
  readonly maxCalls: number | undefined;
  /** The tightest retrieval bound of this grant and its ancestors' grants of the same tool. */
  readonly retrieval: RetrievalBound | undefined;
  /** Returns the first violation of the grant's argument constraints, or undefined. */
  readonly check: (args: Record<string, unknown>) => string | undefined;
}

/** A capability that passed verification, compiled for the hot path. */
export interface VerifiedCapability {
  /**
   * The capability id store keys, spans, errors and `revokeCapability` use: a root grant's `jti`;
   * for a delegated capability, derived from the chain (see `delegatedCapabilityId`), never the
   * `jti` its signer chose.
   */
  readonly id: string;
  readonly issuer: string;
  readonly subject: string;
  readonly audience: readonly string[];
  /**
   * `iat`, seconds. For a delegated capability, the earliest `iat` along its chain: revoking an
   * agent or an intent "until now" then also stops children derived later from an older grant.
   */
  readonly issuedAt: number;
  /** Like `issuedAt`, in ms (see `issuedAtMs` in claims.ts): what revocation compares against. */
  readonly issuedAtMs: number;
  readonly notBefore: number;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  readonly intent: Intent;
  readonly tools: ReadonlyMap<string, CompiledGrant>;
  /** RFC 7638 thumbprint of the key that must prove possession, if bound. */
  readonly confirmationJkt: string | undefined;
  /** Delegation: capability ids from the root to this one, and the agents along the chain. */
  readonly chain: { readonly ids: readonly string[]; readonly agents: readonly string[]; readonly depth: number };
  /** The earliest expiry along the chain, seconds. */
  readonly chainExpiresAt: number;
  /** Per ancestor capability id, its `maxCalls` per tool: a child's calls count against them too. */
  readonly ancestorLimits: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /**
   * Per ancestor capability id, its `exp`, seconds: a counter of an ancestor's budget must last
   * as long as that ancestor, whichever descendant's call creates it.
   */
  readonly ancestorExpiresAt: ReadonlyMap<string, number>;
  readonly claims: CapabilityClaims;
}

export interface VerifyCapabilityOptions {
  audience: string;
  trust: readonly TrustedIssuer[];
  clock: Clock;
  /** Allowed clock skew in seconds; default 30, at most 300. */
  clockSkewSec: number;
  /** Longest lifetime (`exp - iat`) accepted, seconds; default 86,400. */
  maxLifetimeSec: number;
  /** Tokens longer than this are refused before parsing; default 16 KiB. */
  maxTokenBytes: number;
  /** Verifies a delegated capability's chain; absent, delegated capabilities are refused. */
  verifyChain?: ChainVerifier;
  /** Memory budget of the verify cache, bytes (estimated per entry); default 64 MiB. */
  cacheMaxBytes?: number;
}

/** What a chain verifier gets from the capability verifier it serves. */
export interface ChainContext {
  readonly audience: string;
  readonly clock: Clock;
  readonly clockSkewSec: number;
  readonly maxLifetimeSec: number;
  /**
   * Verifies one link signed by a trusted authority (a root grant or a token exchange):
   * signature, typ, iss, this guard's aud, times and claims, exactly as for a plain capability.
   */
  readonly verifyAuthoritySigned: (token: string) => Promise<CapabilityClaims>;
}

/** Verifies every link of a delegated capability, offline, and returns what the guard enforces. */
export type ChainVerifier = (token: string, ctx: ChainContext) => Promise<VerifiedChain>;

export interface VerifiedChain {
  /** Capability ids from the root to this one (inclusive): the root's `jti`, then derived ids. */
  readonly ids: readonly string[];
  /** Agent ids from the root's subject to this one's. */
  readonly agents: readonly string[];
  /** The earliest `exp` along the chain, seconds. */
  readonly expiresAt: number;
  /** Per ancestor capability id, its `maxCalls` per tool. */
  readonly ancestorLimits: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Every link's verified claims, the root grant first and this capability's own last. */
  readonly links: readonly CapabilityClaims[];
}

const DEFAULT_ALGORITHMS = ['EdDSA', 'ES256'];
const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c'] as const;

/** jose's defaults for a remote JWKS, so a discovered set refreshes like a configured one. */
const REMOTE_JWKS_TIMEOUT_MS = 5_000;
const METADATA_MAX_AGE_MS = 600_000;
const MAX_METADATA_BYTES = 64 * 1024;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost']);

const fail = (code: DenialCode, reason: string, cause?: unknown): never => {
  throw new CapabilityError(code, reason, cause === undefined ? undefined : { cause });
};

/** A value from a token, quoted in a reason: JSON, and short. */
const quote = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
};

function positiveMs(value: number | undefined, option: string, max: number): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max)) {
    throw new RangeError(`${option} must be a positive number of ms up to ${max}`);
  }
}

function requireHttps(url: URL, what: string): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return;
  throw new TypeError(`${what} must use https (http only on 127.0.0.1 or localhost)`);
}

/** RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. */
function metadataUrl(issuer: URL): URL {
  const path = issuer.pathname === '/' ? '' : issuer.pathname.replace(/\/$/, '');
  return new URL(`/.well-known/oauth-authorization-server${path}`, issuer.origin);
}

async function fetchJwksUri(issuer: string, url: URL): Promise<URL> {
  const res = await fetch(url, {
    signal: AbortSignal.timeout(REMOTE_JWKS_TIMEOUT_MS),
    redirect: 'error',
    headers: { accept: 'application/json' },
  });
  if (!res.ok) throw new KeySourceError(`the metadata endpoint answered ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_METADATA_BYTES) throw new KeySourceError('the metadata document is too large');
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== 'object' || doc === null) throw new KeySourceError('the metadata document is not a JSON object');
  const m = doc as { issuer?: unknown; jwks_uri?: unknown };
  // RFC 8414 §3.3: metadata naming another issuer is an impersonation attempt, not a typo.
  if (m.issuer !== issuer) throw new KeySourceError('the metadata names another issuer');
  if (typeof m.jwks_uri !== 'string') throw new KeySourceError('the metadata has no jwks_uri');
  const jwksUri = URL.canParse(m.jwks_uri) ? new URL(m.jwks_uri) : undefined;
  if (jwksUri === undefined) throw new KeySourceError('the metadata jwks_uri is not a URL');
  if (!(jwksUri.protocol === 'https:' || (jwksUri.protocol === 'http:' && LOOPBACK_HOSTS.has(jwksUri.hostname)))) {
    throw new KeySourceError('the discovered jwks_uri must use https (http only on 127.0.0.1 or localhost)');
  }
  return jwksUri;
}

/**
 * Keys found through the issuer's RFC 8414 metadata: a key source like a configured function,
 * so the key set follows the same refresh, withdrawal and deadline rules. The metadata is read on
 * first use and again after 10 minutes; a failed re-read keeps the last good `jwks_uri`.
 */
function discoveredJwks(issuer: string, clock: Clock): () => Promise<JWKS> {
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    throw new TypeError(`trust.issuer "${issuer}" has no jwks and is not a URL to discover them from`);
  }
  requireHttps(issuerUrl, `trust.issuer ${issuer} (with no jwks)`);
  const url = metadataUrl(issuerUrl);
  let current: { uri: URL; fetchedAt: number } | undefined;
  const jwksUri = async (): Promise<URL> => {
    if (current !== undefined && clock() - current.fetchedAt < METADATA_MAX_AGE_MS) return current.uri;
    try {
      current = { uri: await fetchJwksUri(issuer, url), fetchedAt: clock() };
    } catch (err) {
      if (current === undefined) throw err;
    }
    return current.uri;
  };
  return async () => (await fetchJwks(await jwksUri(), REMOTE_JWKS_TIMEOUT_MS)) as JWKS;
}

function issuerKeys(t: TrustedIssuer, clock: Clock): IssuerKeySet {
  const algorithms = t.algorithms ?? DEFAULT_ALGORITHMS;
  for (const a of algorithms) {
    if (a === 'none' || a.startsWith('HS')) {
      throw new TypeError(`trust.algorithms for ${t.issuer} must be asymmetric; "${a}" is refused`);
    }
  }
  const src = (t.jwks ?? discoveredJwks(t.issuer, clock)) as unknown;
  if (typeof src === 'string') {
    throw new TypeError(`trust.jwks for ${t.issuer} is a string; pass new URL(${JSON.stringify(src)}) to fetch the key set from that URL`);
  }
  if (src instanceof URL) {
    if (src.protocol !== 'https:' && src.hostname !== '127.0.0.1' && src.hostname !== 'localhost') {
      throw new TypeError(`trust.jwks URL for ${t.issuer} must use https`);
    }
  } else if (typeof src !== 'function' && (src === null || typeof src !== 'object' || !Array.isArray((src as { keys?: unknown }).keys))) {
    throw new TypeError(`trust.jwks for ${t.issuer} must be a JWKS ({ keys: [...] }), a function returning one, or a URL`);
  }
  positiveMs(t.refreshIntervalMs, 'trust.refreshIntervalMs', 86_400_000);
  positiveMs(t.maxStaleMs, 'trust.maxStaleMs', 7 * 86_400_000);
  positiveMs(t.fetchTimeoutMs, 'trust.fetchTimeoutMs', 60_000);
  const refreshIntervalMs = t.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  const maxStaleMs = t.maxStaleMs ?? Math.max(DEFAULT_MAX_STALE_MS, refreshIntervalMs);
  if (maxStaleMs < refreshIntervalMs) throw new RangeError(`trust.maxStaleMs for ${t.issuer} must be at least its refreshIntervalMs`);
  return createIssuerKeySet({
    issuer: t.issuer,
    algorithms,
    jwks: src as JWKS | (() => JWKS | Promise<JWKS>) | URL,
    clock,
    refreshIntervalMs,
    maxStaleMs,
    ...(t.fetchTimeoutMs === undefined ? {} : { fetchTimeoutMs: t.fetchTimeoutMs }),
  });
}

const CAPABILITY_FAILURES: JoseFailureTable<DenialCode> = {
  expired: ['capability_expired', 'the capability has expired; ask the authority for a new grant'],
  nbf: ['capability_invalid', 'the capability is not valid yet (nbf is in the future)'],
  aud: ['capability_invalid', "the capability was granted for another audience than this guard's"],
  iss: ['capability_invalid', 'the capability was issued by an untrusted issuer'],
  claim: ['capability_invalid', (f) => `the capability's "${f.claim}" claim is invalid: ${f.reason}`],
  algorithm: ['capability_invalid', 'the capability is signed with an algorithm this guard does not accept'],
  unknown_key: ['capability_invalid', "the capability's signing key (kid) is not trusted by this guard"],
  ambiguous_key: ['capability_invalid', "the capability's kid matches several trusted keys"],
  signature: ['capability_invalid', "the capability's signature does not verify"],
  malformed: ['capability_invalid', 'the capability is not a well-formed signed JWT'],
};

/** Turns a jose verification error into a capability denial with an actionable reason. */
export function explainJoseError(err: unknown, expected?: { audience: string }): never {
  const table: JoseFailureTable<DenialCode> =
    expected === undefined
      ? CAPABILITY_FAILURES
      : {
          ...CAPABILITY_FAILURES,
          aud: [
            'capability_invalid',
            (f) =>
              `the capability was granted for another audience (${quote((f.payload as { aud?: unknown } | undefined)?.aud)}) than this guard's (${quote(expected.audience)}); ask the authority for a grant with audience ${quote(expected.audience)}`,
          ],
        };
  const explained = explainJoseFailure(err, table);
  if (explained !== undefined) fail(explained.code, explained.reason, err);
  if (err instanceof CapabilityError) throw err;
  return fail('capability_invalid', 'the capability could not be verified', err);
}

function hasProtoKey(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null || depth > 32) return false;
  if (Object.prototype.hasOwnProperty.call(value, '__proto__')) return true;
  for (const v of Object.values(value)) if (hasProtoKey(v, depth + 1)) return true;
  return false;
}

const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti'];

/** A capability's header and claims, read but not yet trusted. */
export interface DecodedCapability {
  readonly header: ReturnType<typeof decodeProtectedHeader>;
  readonly payload: ReturnType<typeof decodeJwt>;
}

/** Reads a compact JWS whose typ must be the capability's; nothing in it is trusted yet. */
export function decodeCapability(token: string): DecodedCapability {
  const problem = compactJwsProblem(token);
  if (problem !== undefined) fail('capability_invalid', `the capability is not a canonical compact JWS: ${problem}`);
  let header: ReturnType<typeof decodeProtectedHeader>;
  let payload: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(token);
    payload = decodeJwt(token);
  } catch (err) {
    return fail('capability_invalid', 'the capability is not a well-formed JWT', err);
  }
  if (header.typ !== CAPABILITY_TYP) {
    fail('capability_invalid', `the token's typ is ${JSON.stringify(header.typ ?? null)}, expected "${CAPABILITY_TYP}"`);
  }
  return { header, payload };
}

/** Checks the claims of a signature-verified capability: shape, one audience, iat, lifetime. */
export function parseCapabilityClaims(payload: unknown, nowMs: number, clockSkewSec: number, maxLifetimeSec: number): CapabilityClaims {
  // zod drops an own "__proto__" key silently; a token carrying one is refused outright.
  if (hasProtoKey(payload, 0)) fail('capability_invalid', 'the capability\'s claims use the reserved key "__proto__"');
  const parsed = capabilityClaimsSchema.safeParse(payload);
  if (!parsed.success) fail('capability_invalid', `the capability's claims are malformed: ${describeIssues(parsed.error, 'claims')}`);
  const claims = parsed.data!;
  if (Array.isArray(claims.aud) && claims.aud.length !== 1) {
    fail('capability_invalid', 'the capability names several audiences; a capability is for exactly one guard deployment');
  }
  if (claims.iat > nowMs / 1000 + clockSkewSec) fail('capability_invalid', 'the capability was issued in the future (iat)');
  if (claims.exp - claims.iat > maxLifetimeSec) {
    fail('capability_invalid', `the capability lives longer than this guard accepts (${maxLifetimeSec}s)`);
  }
  return claims;
}

export type CapabilityVerifier = (token: string) => Promise<VerifiedCapability>;

/** A trusted key that verified a capability or one of its authority-signed links. */
interface KeyUse {
  readonly keys: IssuerKeySet;
  readonly fingerprint: string;
}

/** Compiled tool grants, shared by every cached capability granting exactly the same tools. */
interface SharedTools {
  readonly key: string;
  readonly tools: ReadonlyMap<string, CompiledGrant>;
  readonly claimsTools: CapabilityClaims['tools'];
  readonly bytes: number;
  refs: number;
}

interface Slot extends CacheSlot<VerifiedCapability> {
  /** The key that verified the capability (a delegated one's root or latest authority-signed link). */
  readonly keys: IssuerKeySet;
  readonly fingerprint: string;
  /** The key set version the key was last found in: while it is current, no lookup is needed. */
  snapshot: KeySnapshot;
  /** Further authority keys along a delegation chain. */
  readonly more: readonly KeyUse[] | undefined;
  readonly shared: SharedTools;
}

/**
 * Estimated bytes a cache entry keeps alive, for the memory budget. Measured on Node 20 (V8,
 * 64-bit, no pointer compression) as the heap after a full GC with and without the entries:
 * about 590-650 bytes for a root grant with a short intent (it varies with the heap), which this
 * estimate puts at about 640, so that the budget is never overrun and 100,000 still fit.
 * test/capability/verify-cache-memory.test.ts checks the estimate stays at or above the measured
 * cost. ENTRY_BYTES covers the map slot, the digest key, the slot and the capability record;
 * the strings each capability holds (id, subject, intent) are counted by their length on top.
 */
const ENTRY_BYTES = 470;
/** Per delegation link: chain ids and agents, ancestor limits and expiry maps. */
const LINK_BYTES = 400;
/** Shared compiled tools: the map, one grant object and its checks per tool, per byte of their JSON. */
const SHARED_BYTES = 600;
const SHARED_BYTES_PER_JSON_CHAR = 24;

const stringBytes = (s: string | undefined): number => {
  if (s === undefined) return 0;
  // V8 stores Latin-1 strings at one byte per character, others at two; 16 bytes of header.
  // eslint-disable-next-line no-control-regex
  const width = /[^\u0000-\u00ff]/.test(s) ? 2 : 1;
  return 16 + ((s.length * width + 7) & ~7);
};

const EMPTY_LIMITS: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map();
const EMPTY_EXPIRIES: ReadonlyMap<string, number> = new Map();
/** Authority-signed links of delegation chains whose verifying key is remembered. */
const LINK_KEYS_MAX = 4096;

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** What only a delegated capability carries. */
interface Delegation {
  readonly chain: VerifiedCapability['chain'];
  readonly limits: VerifiedCapability['ancestorLimits'];
  readonly expiries: VerifiedCapability['ancestorExpiresAt'];
  /** The capability's own `iat` (`issuedAt` is the earliest along the chain). */
  readonly iat: number;
}

/**
 * A verified capability as the cache keeps it. A hundred thousand of these may be live, so what
 * can be derived is derived on access (prototype getters) rather than stored: a root grant's
 * chain, its claims object, its audience list.
 */
class CapabilityRecord implements VerifiedCapability {
  readonly id: string;
  readonly issuer: string;
  readonly subject: string;
  readonly issuedAt: number;
  readonly issuedAtMs: number;
  readonly notBefore: number;
  readonly expiresAt: number;
  readonly intent: Intent;
  readonly tools: ReadonlyMap<string, CompiledGrant>;
  readonly confirmationJkt: string | undefined;
  readonly chainExpiresAt: number;
  readonly #delegation: Delegation | undefined;
  /** The claims not kept in the fields above: aud in list form, act, prt; jti and iat_ms when they differ from id and issuedAtMs. */
  readonly #rest: { readonly aud?: string[]; readonly act?: CapabilityClaims['act']; readonly prt?: string; readonly jti?: string; readonly iat_ms?: number } | undefined;
  // Every root grant carries `iat_ms`, equal to `issuedAtMs`: a flag, not a second number or an
  // object per entry, keeps a cached capability small (100,000 of them fit the default budget).
  readonly #iatMsIsIssuedAt: boolean;
  readonly #claimsTools: CapabilityClaims['tools'];
  readonly #audience: readonly string[];

  constructor(
    claims: CapabilityClaims,
    fields: { id: string; issuer: string; issuedAt: number; issuedAtMs: number; chainExpiresAt: number; audience: readonly string[] },
    shared: SharedTools,
    delegation: Delegation | undefined,
  ) {
    this.id = fields.id;
    this.issuer = fields.issuer;
    this.subject = claims.sub;
    this.issuedAt = fields.issuedAt;
    this.issuedAtMs = fields.issuedAtMs;
    this.notBefore = claims.nbf;
    this.expiresAt = claims.exp;
    this.intent = Object.freeze(claims.intent);
    this.tools = shared.tools;
    this.confirmationJkt = claims.cnf?.jkt;
    this.chainExpiresAt = fields.chainExpiresAt;
    this.#delegation = delegation;
    this.#iatMsIsIssuedAt = claims.iat_ms !== undefined && claims.iat_ms === fields.issuedAtMs;
    const rest: { aud?: string[]; act?: CapabilityClaims['act']; prt?: string; jti?: string; iat_ms?: number } = {};
    if (typeof claims.aud !== 'string') rest.aud = claims.aud;
    // A delegated capability's id is derived from its chain, not its own jti.
    if (claims.jti !== fields.id) rest.jti = claims.jti;
    if (claims.iat_ms !== undefined && !this.#iatMsIsIssuedAt) rest.iat_ms = claims.iat_ms;
    if (claims.act !== undefined) rest.act = claims.act;
    if (claims.prt !== undefined) rest.prt = claims.prt;
    this.#rest = Object.keys(rest).length === 0 ? undefined : Object.freeze(rest);
    this.#claimsTools = shared.claimsTools;
    this.#audience = fields.audience;
    Object.freeze(this);
  }

  get audience(): readonly string[] {
    return this.#audience;
  }

  get chain(): VerifiedCapability['chain'] {
    return this.#delegation?.chain ?? { ids: [this.id], agents: [this.subject], depth: 0 };
  }

  get ancestorLimits(): VerifiedCapability['ancestorLimits'] {
    return this.#delegation?.limits ?? EMPTY_LIMITS;
  }

  get ancestorExpiresAt(): VerifiedCapability['ancestorExpiresAt'] {
    return this.#delegation?.expiries ?? EMPTY_EXPIRIES;
  }

  /** The verified claims (unknown claims dropped), rebuilt on each access. */
  get claims(): CapabilityClaims {
    const r = this.#rest;
    const claims: CapabilityClaims = {
      iss: this.issuer,
      sub: this.subject,
      aud: r?.aud ?? this.#audience[0]!,
      iat: this.#delegation?.iat ?? this.issuedAt,
      nbf: this.notBefore,
      exp: this.expiresAt,
      jti: r?.jti ?? this.id,
      intent: this.intent,
      tools: this.#claimsTools,
    };
    if (this.confirmationJkt !== undefined) claims.cnf = { jkt: this.confirmationJkt };
    if (r?.act !== undefined) claims.act = r.act;
    if (r?.prt !== undefined) claims.prt = r.prt;
    if (this.#iatMsIsIssuedAt) claims.iat_ms = this.issuedAtMs;
    else if (r?.iat_ms !== undefined) claims.iat_ms = r.iat_ms;
    return Object.freeze(claims);
  }
}

/**
 * Builds a verifier for one guard. Keys are imported once; the verify cache keeps each compiled
 * capability until it expires, within a memory budget, and forgets it as soon as the key that
 * verified it leaves the issuer's key set.
 */
export function createCapabilityVerifier(options: VerifyCapabilityOptions): {
  verify: CapabilityVerifier;
  /** The cached capability, or undefined (also when it has expired or its key set must be fetched first). */
  cached(token: string): VerifiedCapability | undefined;
  /** Entries and estimated bytes held by the verify cache. */
  cacheStats(): { entries: number; bytes: number; maxBytes: number };
} {
  const maxBytes = options.cacheMaxBytes ?? DEFAULT_VERIFY_CACHE_BYTES;
  if (typeof maxBytes !== 'number' || !Number.isFinite(maxBytes) || maxBytes < 0) {
    throw new RangeError('verifyCacheMaxBytes must be a non-negative number of bytes');
  }
  const issuers = new Map<string, IssuerKeySet>();
  for (const t of options.trust) {
    if (issuers.has(t.issuer)) throw new TypeError(`trust names issuer ${t.issuer} twice; give each issuer once with all its keys`);
    issuers.set(t.issuer, issuerKeys(t, options.clock));
  }
  const trustedList = [...issuers.keys()].map((i) => quote(i)).join(', ');
  const audienceForm = Object.freeze([options.audience]) as readonly string[];

  const sharedTools = new Map<string, SharedTools>();
  let sharedBytes = 0;
  const release = (slot: Slot): void => {
    const sh = slot.shared;
    if (--sh.refs === 0 && sharedTools.get(sh.key) === sh) {
      sharedTools.delete(sh.key);
      sharedBytes -= sh.bytes;
    }
  };
  const cache = createVerifyCache<VerifiedCapability, Slot>(maxBytes, release, () => sharedBytes);
  const digest = createTokenDigest();
  const linkKeys = new Map<string, KeyUse>();

  /** true: every key still trusted; false: one was withdrawn; undefined: a key set must be fetched first. */
  const keysTrusted = (slot: Slot, now: number): boolean | undefined => {
    const s = slot.keys.current(now);
    if (s === undefined) return undefined;
    if (s !== slot.snapshot) {
      if (!s.fingerprints.has(slot.fingerprint)) return false;
      slot.snapshot = s;
    }
    if (slot.more !== undefined) {
      for (const u of slot.more) {
        const c = u.keys.current(now);
        if (c === undefined) return undefined;
        if (!c.fingerprints.has(u.fingerprint)) return false;
      }
    }
    return true;
  };

  const cached = (token: string): VerifiedCapability | undefined => {
    if (typeof token !== 'string' || token.length === 0 || token.length > options.maxTokenBytes) return undefined;
    const d = digest(token);
    const now = options.clock();
    const slot = cache.get(d, now);
    if (slot === undefined) return undefined;
    const trusted = keysTrusted(slot, now);
    if (trusted === true) return slot.value;
    if (trusted === false) cache.delete(d);
    return undefined;
  };

  const checkClaims = (payload: unknown, now: number): CapabilityClaims =>
    parseCapabilityClaims(payload, now, options.clockSkewSec, options.maxLifetimeSec);

  const verifyAuthoritySigned = async (
    token: string,
    decoded: DecodedCapability,
    used: (use: KeyUse) => void,
  ): Promise<CapabilityClaims> => {
    const { header, payload: unverified } = decoded;
    for (const h of FORBIDDEN_HEADERS) {
      if (h in header) fail('capability_invalid', `the capability's header carries "${h}"; keys are never taken from a token`);
    }
    if (typeof header.kid !== 'string') fail('capability_invalid', 'the capability has no kid');
    const keys = typeof unverified.iss === 'string' ? issuers.get(unverified.iss) : undefined;
    if (keys === undefined) {
      fail('capability_invalid', `the capability was issued by an untrusted issuer ${quote(unverified.iss ?? null)}; this guard trusts ${trustedList}`);
    }
    if (typeof header.alg !== 'string' || !keys!.algorithms.includes(header.alg)) {
      fail('capability_invalid', `the capability is signed with an algorithm this guard does not accept (${quote(header.alg ?? null)}; accepted from ${quote(keys!.issuer)}: ${keys!.algorithms.join(', ')})`);
    }
    const now = options.clock();
    const key = await keys!.select(header, now);
    let payload: Record<string, unknown>;
    try {
      const r = await jwtVerify(token, key.key, {
        algorithms: [...keys!.algorithms],
        issuer: keys!.issuer,
        audience: options.audience,
        clockTolerance: options.clockSkewSec,
        currentDate: new Date(now),
        requiredClaims: REQUIRED_CLAIMS,
      });
      payload = r.payload as Record<string, unknown>;
    } catch (err) {
      return explainJoseError(err, options);
    }
    const claims = checkClaims(payload, now);
    used({ keys: keys!, fingerprint: key.fingerprint });
    return claims;
  };

  const rememberLink = (token: string, use: KeyUse): void => {
    if (linkKeys.size >= LINK_KEYS_MAX) {
      const oldest = linkKeys.keys().next();
      if (!oldest.done) linkKeys.delete(oldest.value);
    }
    linkKeys.set(token, use);
  };

  const chainContext: ChainContext = Object.freeze({
    audience: options.audience,
    clock: options.clock,
    clockSkewSec: options.clockSkewSec,
    maxLifetimeSec: options.maxLifetimeSec,
    verifyAuthoritySigned: (token: string) => verifyAuthoritySigned(token, decodeCapability(token), (use) => rememberLink(token, use)),
  });

  /**
   * The authority keys along a delegated chain. The chain verifier remembers verified prefixes,
   * so a link's key is looked up from when it was verified; a link no longer remembered is
   * verified again, so that its key is known and checked against the current set.
   */
  const chainKeys = async (token: string, decoded: DecodedCapability): Promise<KeyUse[]> => {
    const uses: KeyUse[] = [];
    let link = token;
    let d = decoded;
    for (let depth = 0; depth <= 64; depth++) {
      if (!('jwk' in d.header)) {
        let use = linkKeys.get(link);
        if (use === undefined) {
          await verifyAuthoritySigned(link, d, (u) => {
            use = u;
            rememberLink(link, u);
          });
        }
        uses.push(use!);
      }
      const prt = d.payload.prt;
      if (typeof prt !== 'string') break;
      link = prt;
      d = decodeCapability(prt);
    }
    if (uses.length === 0) fail('delegation_invalid', 'the delegation chain has no link signed by a trusted authority');
    return uses;
  };

  /** Compiles the tools once per distinct grant; capabilities granting the same tools share it. */
  const toolsFor = (claims: CapabilityClaims, ancestors: readonly CapabilityClaims[]): SharedTools => {
    const key = ancestors.length === 0 ? JSON.stringify(claims.tools) : JSON.stringify([claims.tools, ...ancestors.map((a) => a.tools)]);
    const hit = sharedTools.get(key);
    if (hit !== undefined) return hit;
    const tools = new Map<string, CompiledGrant>();
    for (const [name, grant] of Object.entries(claims.tools)) {
      // Narrowing was proven for every link; the ancestors' constraints are checked at each call
      // too, so a flaw in that proof still cannot let a call through that an ancestor forbids.
      const checks: ((args: Record<string, unknown>, prefix: string) => string | undefined)[] = [];
      for (const g of [grant, ...ancestors.map((a) => a.tools[name])]) {
        if (g?.args !== undefined) checks.push(compileFields(g.args));
      }
      tools.set(name, Object.freeze({
        name,
        maxCalls: grant.maxCalls,
        retrieval: tightestRetrieval([grant, ...ancestors.map((a) => a.tools[name])]),
        check:
          checks.length === 0
            ? () => undefined
            : checks.length === 1
              ? (args: Record<string, unknown>) => checks[0]!(args, '')
              : (args: Record<string, unknown>) => {
                  for (const c of checks) {
                    const why = c(args, '');
                    if (why !== undefined) return why;
                  }
                  return undefined;
                },
      }));
    }
    const sh: SharedTools = {
      key,
      tools,
      claimsTools: deepFreeze(claims.tools),
      bytes: SHARED_BYTES + stringBytes(key) + key.length * SHARED_BYTES_PER_JSON_CHAR,
      refs: 0,
    };
    return sh;
  };

  const verify = async (token: string): Promise<VerifiedCapability> => {
    if (typeof token !== 'string' || token.length === 0) fail('capability_missing', 'no capability token was presented');
    if (token.length > options.maxTokenBytes) fail('capability_invalid', `the capability is larger than ${options.maxTokenBytes} bytes`);
    const d = digest(token);
    const hit = cache.get(d, options.clock());
    if (hit !== undefined) {
      // Cached, but a key set is due: fetch it, then the capability stands only if its keys are
      // still in it.
      await hit.keys.ready(options.clock());
      if (hit.more !== undefined) for (const u of hit.more) await u.keys.ready(options.clock());
      if (keysTrusted(hit, options.clock()) === true) return hit.value;
      cache.delete(d);
    }
    const decoded = decodeCapability(token);

    let claims: CapabilityClaims;
    let chain: VerifiedCapability['chain'];
    let chainExpiresAt: number;
    let issuedAt: number;
    let issuedAtMs: number;
    let ancestors: readonly CapabilityClaims[] = [];
    let ancestorLimits: ReadonlyMap<string, ReadonlyMap<string, number>> = EMPTY_LIMITS;
    let ancestorExpiresAt: ReadonlyMap<string, number> = EMPTY_EXPIRIES;
    let uses: KeyUse[] = [];
    if (!('prt' in decoded.payload) && !('act' in decoded.payload)) {
      claims = await verifyAuthoritySigned(token, decoded, (u) => uses.push(u));
      chain = { ids: [claims.jti], agents: [claims.sub], depth: 0 };
      chainExpiresAt = claims.exp;
      issuedAt = claims.iat;
      issuedAtMs = issuedAtMsOf(claims);
    } else {
      if (!options.verifyChain) fail('delegation_invalid', 'the capability is delegated and this guard does not accept delegation');
      const c = await options.verifyChain!(token, chainContext);
      claims = c.links[c.links.length - 1]!;
      ancestors = c.links.slice(0, -1);
      chain = { ids: c.ids, agents: c.agents, depth: c.ids.length - 1 };
      chainExpiresAt = Math.min(claims.exp, c.expiresAt);
      // Authority flows from the root grant: revoking an agent or an intent "until now" must
      // also stop children derived later from a grant made before the revocation.
      issuedAt = Math.min(...c.links.map((l) => l.iat));
      issuedAtMs = Math.min(...c.links.map(issuedAtMsOf));
      ancestorLimits = c.ancestorLimits;
      const expiries = new Map<string, number>();
      // Keyed by the derived ids the store uses, never by a jti a delegating agent chose.
      ancestors.forEach((a, i) => expiries.set(c.ids[i]!, a.exp));
      ancestorExpiresAt = expiries;
      uses = await chainKeys(token, decoded);
    }

    const shared = toolsFor(claims, ancestors);
    const verified: VerifiedCapability = new CapabilityRecord(
      claims,
      { id: chain.ids[chain.ids.length - 1]!, issuer: chain.depth === 0 ? uses[0]!.keys.issuer : claims.iss, issuedAt, issuedAtMs, chainExpiresAt, audience: audienceForm },
      shared,
      chain.depth === 0 ? undefined : { chain, limits: ancestorLimits, expiries: ancestorExpiresAt, iat: claims.iat },
    );

    let bytes = ENTRY_BYTES + stringBytes(claims.jti) + stringBytes(claims.sub) + stringBytes(claims.intent.id) + stringBytes(claims.intent.purpose);
    bytes += stringBytes(claims.cnf?.jkt) + stringBytes(claims.prt);
    if (chain.depth > 0) {
      bytes += (chain.depth + 1) * LINK_BYTES + (claims.act === undefined ? 0 : JSON.stringify(claims.act).length * 8);
      for (const a of ancestors) bytes += stringBytes(a.jti) + stringBytes(a.sub);
    }
    const now = options.clock();
    const first = uses[0]!;
    const snapshot = first.keys.current(now);
    if (snapshot !== undefined && snapshot.fingerprints.has(first.fingerprint)) {
      if (sharedTools.get(shared.key) !== shared) {
        sharedTools.set(shared.key, shared);
        sharedBytes += shared.bytes;
      }
      shared.refs++;
      cache.set(
        d,
        {
          value: verified,
          bytes,
          expiresAtSec: chainExpiresAt + options.clockSkewSec,
          hot: false,
          keys: first.keys,
          fingerprint: first.fingerprint,
          snapshot,
          more: uses.length > 1 ? uses.slice(1) : undefined,
          shared,
        },
        now,
      );
    }
    return verified;
  };

  return { verify, cached, cacheStats: () => ({ entries: cache.size, bytes: cache.bytes + sharedBytes, maxBytes }) };
}

/**
 * The chain's retrieval bounds as one: the lowest of each limit and the labels every link
 * allows. Narrowing was proven at delegation; this holds even if that proof had a flaw.
 */
function tightestRetrieval(grants: readonly (ToolGrant | undefined)[]): RetrievalBound | undefined {
  let out: RetrievalBound | undefined;
  const min = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
  for (const g of grants) {
    const r = g?.retrieval;
    if (r === undefined) continue;
    if (out === undefined) {
      out = { ...r, ...(r.perIntent ? { perIntent: { ...r.perIntent } } : {}) };
      continue;
    }
    out.maxRecords = min(out.maxRecords, r.maxRecords);
    out.maxBytes = min(out.maxBytes, r.maxBytes);
    if (r.labels !== undefined) out.labels = out.labels === undefined ? [...r.labels] : out.labels.filter((l) => r.labels!.includes(l));
    if (r.perIntent !== undefined) {
      out.perIntent = {
        maxRecords: min(out.perIntent?.maxRecords, r.perIntent.maxRecords),
        maxBytes: min(out.perIntent?.maxBytes, r.perIntent.maxBytes),
      };
    }
  }
  return out === undefined ? undefined : deepFreeze(out);
}
