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
import { CAPABILITY_TYP, capabilityClaimsSchema, type CapabilityClaims, type Intent } from './claims.js';
import { compileFields } from './constraints.js';
import type { JWKS } from './keys.js';

/** One trusted authority: its exact `iss` and its public keys. */
export interface TrustedIssuer {
  issuer: string;
  /**
   * Public keys: a JWKS object, a function returning the current JWKS (asked again when a token
   * names an unknown `kid`), or a configured HTTPS URL (never a URL taken from a token).
   */
  jwks: JWKS | (() => JWKS | Promise<JWKS>) | URL;
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
  readonly id: string;
  readonly issuer: string;
  readonly subject: string;
  readonly audience: readonly string[];
  readonly issuedAt: number;
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
  verifyChain?: (claims: CapabilityClaims, token: string) => Promise<VerifiedChain>;
}

export interface VerifiedChain {
  /** Capability ids from the root to this one (inclusive). */
  readonly ids: readonly string[];
  /** Agent ids from the root's subject to this one's. */
  readonly agents: readonly string[];
  /** The earliest `exp` along the chain, seconds. */
  readonly expiresAt: number;
  /** Per ancestor capability id, its `maxCalls` per tool. */
  readonly ancestorLimits: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

const DEFAULT_ALGORITHMS = ['EdDSA', 'ES256'];
const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c'] as const;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const fail = (code: DenialCode, reason: string, cause?: unknown): never => {
  throw new CapabilityError(code, reason, cause === undefined ? undefined : { cause });
};

interface IssuerKeys {
  issuer: string;
  algorithms: string[];
  getKey: JWTVerifyGetKey;
}

function keyResolver(t: TrustedIssuer): IssuerKeys {
  const algorithms = t.algorithms ?? DEFAULT_ALGORITHMS;
  for (const a of algorithms) {
    if (a === 'none' || a.startsWith('HS')) {
      throw new TypeError(`trust.algorithms for ${t.issuer} must be asymmetric; "${a}" is refused`);
    }
  }
  const src = t.jwks;
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

function explainJoseError(err: unknown): never {
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
  for (const t of options.trust) issuers.set(t.issuer, keyResolver(t));
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

  const verify = async (token: string): Promise<VerifiedCapability> => {
    if (typeof token !== 'string' || token.length === 0) fail('capability_missing', 'no capability token was presented');
    if (token.length > options.maxTokenBytes) fail('capability_invalid', `the capability is larger than ${options.maxTokenBytes} bytes`);
    if (!COMPACT_JWS.test(token)) fail('capability_invalid', 'the capability is not a compact JWS');

    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: ReturnType<typeof decodeJwt>;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch (err) {
      return fail('capability_invalid', 'the capability is not a well-formed JWT', err);
    }
    if (header.typ !== CAPABILITY_TYP) {
      fail('capability_invalid', `the token's typ is ${JSON.stringify(header.typ ?? null)}, expected "${CAPABILITY_TYP}"`);
    }
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
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti'],
      });
      payload = r.payload as Record<string, unknown>;
    } catch (err) {
      return explainJoseError(err);
    }

    // zod drops an own "__proto__" key silently; a token carrying one is refused outright.
    if (hasProtoKey(payload, 0)) fail('capability_invalid', 'the capability\'s claims use the reserved key "__proto__"');
    const parsed = capabilityClaimsSchema.safeParse(payload);
    if (!parsed.success) fail('capability_invalid', `the capability's claims are malformed: ${describeIssues(parsed.error, 'claims')}`);
    const claims = parsed.data!;
    if (Array.isArray(claims.aud) && claims.aud.length !== 1) {
      fail('capability_invalid', 'the capability names several audiences; a capability is for exactly one guard deployment');
    }
    const nowSec = now / 1000;
    if (claims.iat > nowSec + options.clockSkewSec) fail('capability_invalid', 'the capability was issued in the future (iat)');
    if (claims.exp - claims.iat > options.maxLifetimeSec) {
      fail('capability_invalid', `the capability lives longer than this guard accepts (${options.maxLifetimeSec}s)`);
    }

    let chain = { ids: [claims.jti] as readonly string[], agents: [claims.sub] as readonly string[], depth: 0 };
    let chainExpiresAt = claims.exp;
    let ancestorLimits: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map();
    if (claims.prt !== undefined || claims.act !== undefined) {
      if (!options.verifyChain) fail('delegation_invalid', 'the capability is delegated and this guard does not accept delegation');
      const c = await options.verifyChain!(claims, token);
      chain = { ids: c.ids, agents: c.agents, depth: c.ids.length - 1 };
      chainExpiresAt = Math.min(chainExpiresAt, c.expiresAt);
      ancestorLimits = c.ancestorLimits;
    }

    const tools = new Map<string, CompiledGrant>();
    for (const [name, grant] of Object.entries(claims.tools)) {
      const fields = grant.args ? compileFields(grant.args) : undefined;
      tools.set(name, {
        name,
        maxCalls: grant.maxCalls,
        check: fields ? (args) => fields(args, '') : () => undefined,
      });
    }

    const verified: VerifiedCapability = Object.freeze({
      id: claims.jti,
      issuer: claims.iss,
      subject: claims.sub,
      audience: typeof claims.aud === 'string' ? [claims.aud] : claims.aud,
      issuedAt: claims.iat,
      notBefore: claims.nbf,
      expiresAt: claims.exp,
      intent: claims.intent,
      tools,
      confirmationJkt: claims.cnf?.jkt,
      chain,
      chainExpiresAt,
      ancestorLimits,
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
