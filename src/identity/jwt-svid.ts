/**
 * JWT-SVID verification, as the SPIFFE JWT-SVID standard says: RS/ES/PS 256/384/512 only, a
 * header holding only `alg`, `kid` and `typ` (`JWT` or `JOSE`), `sub` a valid SPIFFE ID in a
 * trusted trust domain, `aud` present and containing ours, `exp` present, the key taken from
 * that trust domain's bundle by `kid` and nowhere else.
 */
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { z } from 'zod';
import { systemClock, type Clock } from '../util/time.js';
import { clockOption } from '../util/option-schemas.js';
import { parseOptions } from '../util/options.js';
import { IdentityError } from './errors.js';
import { parseSpiffeId, parseTrustDomain, SpiffeIdError, type SpiffeId } from './spiffe-id.js';
import { createTrustBundle, type TrustBundle, type TrustBundleSource } from './trust-bundle.js';
import type { AgentIdentity, IdentityVerifier } from './types.js';
import { COMPACT_JWS } from '../jose/compact-jws.js';
import { explainJoseFailure, type JoseFailureTable } from '../jose/explain-failure.js';

export const JWT_SVID_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;

export interface JwtSvidVerifierOptions {
  /** Our audience: every JWT-SVID's `aud` must contain it. */
  audience: string;
  /** The trusted trust domains and where each one's bundle comes from, keyed by trust domain name. */
  trustDomains: Record<string, TrustBundleSource>;
  /** Refresh interval for bundles without `spiffe_refresh_hint`, seconds; default 300. */
  refreshIntervalSec?: number;
  /** Least time between refreshes prompted by an unknown `kid` or a failure, seconds; default 30. */
  cooldownSec?: number;
  /** Deadline of each bundle load (URL, file or function), ms; default 5000. */
  timeoutMs?: number;
  /** Allowed clock skew, seconds; default 30, at most 300. */
  clockSkewSec?: number;
  clock?: Clock;
}

const optionsSchema = z.strictObject({
  audience: z.string().min(1),
  trustDomains: z.record(z.string(), z.unknown()).refine((t) => Object.keys(t).length > 0, { message: 'name at least one trust domain' }),
  refreshIntervalSec: z.number().int().positive().max(86_400).optional(),
  cooldownSec: z.number().nonnegative().max(3600).optional(),
  timeoutMs: z.number().int().positive().max(60_000).optional(),
  clockSkewSec: z.number().nonnegative().max(300).optional(),
  clock: clockOption.optional(),
});

const ALLOWED = new Set<string>(JWT_SVID_ALGORITHMS);
const HEADER_MEMBERS = new Set(['alg', 'kid', 'typ']);
const MAX_TOKEN_BYTES = 16 * 1024;

const invalid = (reason: string, cause?: unknown): never => {
  throw new IdentityError('identity_invalid', reason, cause === undefined ? undefined : { cause });
};

const SVID_FAILURES: JoseFailureTable<'identity_invalid'> = {
  expired: ['identity_invalid', 'the JWT-SVID has expired; fetch a fresh one from the Workload API'],
  aud: ['identity_invalid', "the JWT-SVID's audience does not include this guard"],
  nbf: ['identity_invalid', 'the JWT-SVID is not valid yet (nbf)'],
  claim: ['identity_invalid', (f) => `the JWT-SVID's "${f.claim}" claim is missing or invalid`],
  algorithm: ['identity_invalid', 'the JWT-SVID is signed with an algorithm the JWT-SVID standard does not allow'],
  signature: ['identity_invalid', "the JWT-SVID's signature does not verify"],
};

function explain(err: unknown): never {
  if (err instanceof IdentityError) throw err;
  return invalid(explainJoseFailure(err, SVID_FAILURES)?.reason ?? 'the JWT-SVID could not be verified', err);
}

/** Builds a verifier of JWT-SVIDs; plug it into `createGuard({ identity })` or `createAuthority({ identity })`. */
export function createJwtSvidVerifier(options: JwtSvidVerifierOptions): IdentityVerifier {
  parseOptions(optionsSchema, options, 'createJwtSvidVerifier options');
  const clock = options.clock ?? systemClock;
  const clockSkewSec = options.clockSkewSec ?? 30;
  const bundles = new Map<string, TrustBundle>();
  for (const [name, source] of Object.entries(options.trustDomains)) {
    try {
      parseTrustDomain(name);
    } catch (err) {
      throw new TypeError(`trustDomains: "${name}" is not a valid trust domain name (${(err as SpiffeIdError).rule})`);
    }
    bundles.set(
      name,
      createTrustBundle(name, source, {
        refreshIntervalSec: options.refreshIntervalSec ?? 300,
        cooldownSec: options.cooldownSec ?? 30,
        timeoutMs: options.timeoutMs ?? 5000,
        clock,
      }),
    );
  }
  const audience = options.audience;

  return {
    async verify(token: string): Promise<AgentIdentity> {
      if (typeof token !== 'string' || token.length === 0) invalid('no JWT-SVID was presented');
      if (token.length > MAX_TOKEN_BYTES) invalid(`the JWT-SVID is larger than ${MAX_TOKEN_BYTES} bytes`);
      if (!COMPACT_JWS.test(token)) invalid('the JWT-SVID is not a compact JWS');
      let header: Record<string, unknown>;
      let claims: Record<string, unknown>;
      try {
        header = decodeProtectedHeader(token) as Record<string, unknown>;
        claims = decodeJwt(token) as Record<string, unknown>;
      } catch (err) {
        return invalid('the JWT-SVID is not a well-formed JWT', err);
      }
      for (const k of Object.keys(header)) {
        if (!HEADER_MEMBERS.has(k)) invalid(`the JWT-SVID's header may hold only alg, kid and typ; it carries "${k}"`);
      }
      if (typeof header.alg !== 'string' || !ALLOWED.has(header.alg)) {
        invalid('the JWT-SVID is signed with an algorithm the JWT-SVID standard does not allow (RS, ES or PS 256/384/512 only)');
      }
      if (header.typ !== undefined && header.typ !== 'JWT' && header.typ !== 'JOSE') invalid('the JWT-SVID\'s typ must be "JWT" or "JOSE"');
      if (typeof header.kid !== 'string' || header.kid.length === 0) invalid('the JWT-SVID has no kid');
      if (typeof claims.sub !== 'string') invalid('the JWT-SVID has no sub');
      let id: SpiffeId;
      try {
        id = parseSpiffeId(claims.sub as string);
      } catch (err) {
        return invalid(`the JWT-SVID's sub is not a valid SPIFFE ID (${(err as SpiffeIdError).rule})`, err);
      }
      if (claims.aud === undefined) invalid('the JWT-SVID has no aud');
      if (claims.exp === undefined) invalid('the JWT-SVID has no exp');
      const bundle = bundles.get(id.trustDomain);
      if (bundle === undefined) invalid(`the JWT-SVID's trust domain "${id.trustDomain}" is not trusted by this verifier`);
      const key = await bundle!.key(header.kid as string);
      if (key === undefined) invalid(`the JWT-SVID's key (kid) is not in the bundle of "${id.trustDomain}"`);
      if (key!.alg !== undefined && key!.alg !== header.alg) invalid("the JWT-SVID's alg does not match its key's alg");
      let exp: number;
      let iat: number | undefined;
      try {
        const r = await jwtVerify(token, key!.key, {
          algorithms: [...JWT_SVID_ALGORITHMS],
          audience,
          clockTolerance: clockSkewSec,
          currentDate: new Date(clock()),
          requiredClaims: ['sub', 'aud', 'exp'],
        });
        exp = r.payload.exp!;
        iat = r.payload.iat;
      } catch (err) {
        return explain(err);
      }
      // RFC 8725: a token issued in the future (beyond the skew) is refused, whatever its exp.
      if (iat !== undefined && iat > clock() / 1000 + clockSkewSec) invalid('the JWT-SVID was issued in the future (iat)');
      return Object.freeze({ id: id.id, trustDomain: id.trustDomain, source: 'jwt-svid' as const, expiresAt: exp * 1000 });
    },
  };
}
