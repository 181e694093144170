/**
 * Capability verification (RFC 8725): explicit algorithms, exact `typ`, the issuer owns the key,
 * `aud` required, bounded clock skew, nothing fetched from a URL named in the token. Each
 * verified capability is compiled once (constraints, lookups) and cached until it expires.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
} from 'jose';
import { CapabilityError, type DenialCode } from '../errors.js';
import type { Clock } from '../util/time.js';
import { describeIssues } from '../util/zod-issues.js';
import { CAPABILITY_TYP, capabilityClaimsSchema, issuedAtMs as issuedAtMsOf, type CapabilityClaims, type Intent } from './claims.js';
import { compileFields } from './constraints.js';
import type { JWKS } from './keys.js';
import { COMPACT_JWS } from '../util/compact-jws.js';

/** One trusted authority: its exact `iss` and its public keys. */
export interface TrustedIssuer {
  issuer: string;
  /**
   * Public keys: a JWKS object, a function returning the current JWKS (asked again when a token
   * names an unknown `kid`), or a configured HTTPS URL (never a URL taken from a token). Absent,
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

interface IssuerKeys {
  issuer: string;
  algorithms: string[];
  getKey: JWTVerifyGetKey;
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
  if (!res.ok) throw new Error(`the metadata endpoint answered ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_METADATA_BYTES) throw new Error('the metadata document is too large');
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== 'object' || doc === null) throw new Error('the metadata document is not a JSON object');
  const m = doc as { issuer?: unknown; jwks_uri?: unknown };
  // RFC 8414 §3.3: metadata naming another issuer is an impersonation attempt, not a typo.
  if (m.issuer !== issuer) throw new Error('the metadata names another issuer');
  if (typeof m.jwks_uri !== 'string') throw new Error('the metadata has no jwks_uri');
  const jwksUri = new URL(m.jwks_uri);
  requireHttps(jwksUri, 'the discovered jwks_uri');
  return jwksUri;
}

/**
 * Keys found through the issuer's RFC 8414 metadata. The metadata is fetched on first use and
 * again after 10 minutes; a failed fetch is retried on the next call, and a failed refresh keeps
 * the last good `jwks_uri` (its keys still follow the remote set's own rules).
 */
function discoveredKeys(issuer: string, clock: Clock): JWTVerifyGetKey {
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    throw new TypeError(`trust.issuer "${issuer}" has no jwks and is not a URL to discover them from`);
  }
  requireHttps(issuerUrl, `trust.issuer ${issuer} (with no jwks)`);
  const url = metadataUrl(issuerUrl);
  let current: { uri: string; getKey: JWTVerifyGetKey; fetchedAt: number } | undefined;
  let inflight: Promise<JWTVerifyGetKey> | undefined;
  const discover = (): Promise<JWTVerifyGetKey> =>
    (inflight ??= (async () => {
      const uri = await fetchJwksUri(issuer, url);
      if (current?.uri !== uri.href) current = { uri: uri.href, getKey: createRemoteJWKSet(uri), fetchedAt: clock() };
      else current.fetchedAt = clock();
      return current.getKey;
    })().finally(() => {
      inflight = undefined;
    }));
  return async (header, token) => {
    let getKey = current?.getKey;
    if (current === undefined) {
      try {
        getKey = await discover();
      } catch (err) {
        fail('capability_invalid', `the metadata of ${issuer} could not be fetched; its capabilities are refused until it can`, err);
      }
    } else if (clock() - current.fetchedAt >= METADATA_MAX_AGE_MS) {
      getKey = await discover().catch(() => current!.getKey);
    }
    return getKey!(header, token);
  };
}

function keyResolver(t: TrustedIssuer, clock: Clock): IssuerKeys {
  const algorithms = t.algorithms ?? DEFAULT_ALGORITHMS;
  for (const a of algorithms) {
    if (a === 'none' || a.startsWith('HS')) {
      throw new TypeError(`trust.algorithms for ${t.issuer} must be asymmetric; "${a}" is refused`);
    }
  }
  const src = t.jwks;
  if (src === undefined) return { issuer: t.issuer, algorithms, getKey: discoveredKeys(t.issuer, clock) };
  if (src instanceof URL) {
    if (src.protocol !== 'https:' && src.hostname !== '127.0.0.1' && src.hostname !== 'localhost') {
      throw new TypeError(`trust.jwks URL for ${t.issuer} must use https`);
    }
    return { issuer: t.issuer, algorithms, getKey: createRemoteJWKSet(src) };
  }
  if (typeof src === 'function') {
    let local: JWTVerifyGetKey | undefined;
    const refresh = async (): Promise<JWTVerifyGetKey> => (local = createLocalJWKSet(await src()));
    const getKey: JWTVerifyGetKey = async (header, token) => {
      const current = local ?? (await refresh());
      try {
        return await current(header, token);
      } catch (err) {
        if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
        return (await refresh())(header, token);
      }
    };
    return { issuer: t.issuer, algorithms, getKey };
  }
  return { issuer: t.issuer, algorithms, getKey: createLocalJWKSet(src) };
}

/** Turns a jose verification error into a capability denial with an actionable reason. */
export function explainJoseError(err: unknown): never {
  if (err instanceof joseErrors.JWTExpired) fail('capability_expired', 'the capability has expired; ask the authority for a new grant', err);
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') fail('capability_invalid', 'the capability is not valid yet (nbf is in the future)', err);
    if (err.claim === 'aud') fail('capability_invalid', "the capability was granted for another audience than this guard's", err);
    if (err.claim === 'iss') fail('capability_invalid', 'the capability was issued by an untrusted issuer', err);
    fail('capability_invalid', `the capability's "${err.claim}" claim is invalid: ${err.reason}`, err);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) fail('capability_invalid', 'the capability is signed with an algorithm this guard does not accept', err);
  if (err instanceof joseErrors.JWKSNoMatchingKey) fail('capability_invalid', "the capability's signing key (kid) is not trusted by this guard", err);
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) fail('capability_invalid', "the capability's kid matches several trusted keys", err);
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) fail('capability_invalid', "the capability's signature does not verify", err);
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid) fail('capability_invalid', 'the capability is not a well-formed signed JWT', err);
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JOSENotSupported) fail('capability_invalid', 'the capability could not be verified', err);
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
  if (typeof token !== 'string' || !COMPACT_JWS.test(token)) fail('capability_invalid', 'the capability is not a compact JWS');
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

/**
 * Builds a verifier for one guard. Keys are imported once; a bounded cache maps each token to its
 * compiled capability until it expires.
 */
export function createCapabilityVerifier(options: VerifyCapabilityOptions, cacheSize = 10_000): {
  verify: CapabilityVerifier;
  /** The cached capability, or undefined (also when it has expired). */
  cached(token: string): VerifiedCapability | undefined;
} {
  const issuers = new Map<string, IssuerKeys>();
  for (const t of options.trust) issuers.set(t.issuer, keyResolver(t, options.clock));
  const cache = new Map<string, VerifiedCapability>();

  const cached = (token: string): VerifiedCapability | undefined => {
    const hit = cache.get(token);
    if (hit === undefined) return undefined;
    if (options.clock() >= (hit.chainExpiresAt + options.clockSkewSec) * 1000) {
      cache.delete(token);
      return undefined;
    }
    return hit;
  };

  const checkClaims = (payload: unknown, now: number): CapabilityClaims =>
    parseCapabilityClaims(payload, now, options.clockSkewSec, options.maxLifetimeSec);

  const verifyAuthoritySigned = async (token: string, decoded = decodeCapability(token)): Promise<CapabilityClaims> => {
    const { header, payload: unverified } = decoded;
    for (const h of FORBIDDEN_HEADERS) {
      if (h in header) fail('capability_invalid', `the capability's header carries "${h}"; keys are never taken from a token`);
    }
    if (typeof header.kid !== 'string') fail('capability_invalid', 'the capability has no kid');
    const keys = typeof unverified.iss === 'string' ? issuers.get(unverified.iss) : undefined;
    if (keys === undefined) fail('capability_invalid', 'the capability was issued by an untrusted issuer');

    const now = options.clock();
    let payload: Record<string, unknown>;
    try {
      const r = await jwtVerify(token, keys!.getKey, {
        algorithms: keys!.algorithms,
        issuer: keys!.issuer,
        audience: options.audience,
        clockTolerance: options.clockSkewSec,
        currentDate: new Date(now),
        requiredClaims: REQUIRED_CLAIMS,
      });
      payload = r.payload as Record<string, unknown>;
    } catch (err) {
      return explainJoseError(err);
    }
    return checkClaims(payload, now);
  };

  const chainContext: ChainContext = Object.freeze({
    audience: options.audience,
    clock: options.clock,
    clockSkewSec: options.clockSkewSec,
    maxLifetimeSec: options.maxLifetimeSec,
    verifyAuthoritySigned: (token: string) => verifyAuthoritySigned(token),
  });

  const verify = async (token: string): Promise<VerifiedCapability> => {
    if (typeof token !== 'string' || token.length === 0) fail('capability_missing', 'no capability token was presented');
    if (token.length > options.maxTokenBytes) fail('capability_invalid', `the capability is larger than ${options.maxTokenBytes} bytes`);
    const decoded = decodeCapability(token);

    let claims: CapabilityClaims;
    let chain: VerifiedCapability['chain'];
    let chainExpiresAt: number;
    let issuedAt: number;
    let issuedAtMs: number;
    let ancestors: readonly CapabilityClaims[] = [];
    let ancestorLimits: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map();
    const ancestorExpiresAt = new Map<string, number>();
    if (!('prt' in decoded.payload) && !('act' in decoded.payload)) {
      claims = await verifyAuthoritySigned(token, decoded);
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
      ancestors.forEach((a, i) => ancestorExpiresAt.set(c.ids[i]!, a.exp));
    }

    const tools = new Map<string, CompiledGrant>();
    for (const [name, grant] of Object.entries(claims.tools)) {
      // Narrowing was proven for every link; the ancestors' constraints are checked at each call
      // too, so a flaw in that proof still cannot let a call through that an ancestor forbids.
      const checks: ((args: Record<string, unknown>, prefix: string) => string | undefined)[] = [];
      for (const g of [grant, ...ancestors.map((a) => a.tools[name])]) {
        if (g?.args !== undefined) checks.push(compileFields(g.args));
      }
      tools.set(name, {
        name,
        maxCalls: grant.maxCalls,
        check:
          checks.length === 0
            ? () => undefined
            : checks.length === 1
              ? (args) => checks[0]!(args, '')
              : (args) => {
                  for (const c of checks) {
                    const why = c(args, '');
                    if (why !== undefined) return why;
                  }
                  return undefined;
                },
      });
    }

    const verified: VerifiedCapability = Object.freeze({
      id: chain.ids[chain.ids.length - 1]!,
      issuer: claims.iss,
      subject: claims.sub,
      audience: typeof claims.aud === 'string' ? [claims.aud] : claims.aud,
      issuedAt,
      issuedAtMs,
      notBefore: claims.nbf,
      expiresAt: claims.exp,
      intent: claims.intent,
      tools,
      confirmationJkt: claims.cnf?.jkt,
      chain,
      chainExpiresAt,
      ancestorLimits,
      ancestorExpiresAt,
      claims,
    });
    if (cache.size >= cacheSize) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(token, verified);
    return verified;
  };

  return { verify, cached };
}
