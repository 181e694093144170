/**
 * OIDC / OAuth 2.0 JWT verification for agent identities issued by an identity provider:
 * issuer discovery (`/.well-known/openid-configuration`), keys through jose's remote key set
 * (cached, with a cooldown between refetches), exact `iss`, `aud` containing ours, `exp`
 * required, bounded skew. The agent's identity is `<iss>#<sub>`, or a configured claim.
 * A provider that cannot be reached is `identity_unavailable`: calls fail closed.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { systemClock, type Clock } from '../util/time.js';
import { clockOption } from '../util/option-schemas.js';
import { parseOptions } from '../util/options.js';
import { IdentityError } from './errors.js';
import type { AgentIdentity, IdentityVerifier } from './types.js';
import { COMPACT_JWS } from '../jose/compact-jws.js';
import { explainJoseFailure, type JoseFailureTable } from '../jose/explain-failure.js';

export interface OidcVerifierOptions {
  /** The provider's issuer identifier, exactly as it appears in `iss` and in its discovery document. */
  issuer: string;
  /** Our audience: the token's `aud` must contain it (e.g. the resource indicator of this guard). */
  audience: string;
  /**
   * The claim that names the agent; default none, and the identity is `<iss>#<sub>`. A configured
   * claim (e.g. `client_id`) must hold a non-empty string, used as the identity as is.
   */
  identityClaim?: string;
  /** Require this exact `typ` header, e.g. `at+jwt` for RFC 9068 access tokens. Default: not checked. */
  typ?: string;
  /** Accepted algorithms; default RS256, PS256, ES256, EdDSA. Symmetric algorithms are refused. */
  algorithms?: string[];
  /** How long fetched keys are trusted before a refetch, ms; default 600,000. */
  jwksCacheMaxAgeMs?: number;
  /** Least time between two refetches prompted by an unknown `kid`, ms; default 30,000. */
  jwksCooldownMs?: number;
  /** Timeout of each request to the provider, ms; default 5000. */
  timeoutMs?: number;
  /** Allowed clock skew, seconds; default 30, at most 300. */
  clockSkewSec?: number;
  clock?: Clock;
}

const optionsSchema = z.strictObject({
  issuer: z.string().url(),
  audience: z.string().min(1),
  identityClaim: z.string().min(1).optional(),
  typ: z.string().min(1).optional(),
  algorithms: z
    .array(z.string().regex(/^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/, { message: 'only asymmetric algorithms (RS, PS, ES, EdDSA)' }))
    .min(1)
    .optional(),
  jwksCacheMaxAgeMs: z.number().int().nonnegative().optional(),
  jwksCooldownMs: z.number().int().nonnegative().optional(),
  timeoutMs: z.number().int().positive().max(60_000).optional(),
  clockSkewSec: z.number().nonnegative().max(300).optional(),
  clock: clockOption.optional(),
});

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c'] as const;
const MAX_TOKEN_BYTES = 16 * 1024;
const ATTRIBUTE_CLAIMS = ['client_id', 'azp', 'scope', 'groups', 'roles'] as const;

function secureUrl(value: string, what: string): URL {
  const url = new URL(value);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new TypeError(`${what} must use https`);
  }
  return url;
}

const invalid = (reason: string, cause?: unknown): never => {
  throw new IdentityError('identity_invalid', reason, cause === undefined ? undefined : { cause });
};

/** Validation failures are the token's fault; anything else (network, timeout, bad JWKS) is the provider's. */
const OIDC_FAILURES: JoseFailureTable<'identity_invalid'> = {
  expired: ['identity_invalid', 'the identity token has expired'],
  aud: ['identity_invalid', "the identity token's audience does not include this service"],
  iss: ['identity_invalid', 'the identity token was issued by another issuer'],
  typ: ['identity_invalid', "the identity token's typ is not the one this verifier requires"],
  claim: ['identity_invalid', (f) => `the identity token's "${f.claim}" claim is missing or invalid`],
  algorithm: ['identity_invalid', 'the identity token is signed with an algorithm this verifier does not accept'],
  unknown_key: ['identity_invalid', "the identity token's key (kid) is not published by the provider"],
  ambiguous_key: ['identity_invalid', "the identity token's kid matches several provider keys"],
  signature: ['identity_invalid', "the identity token's signature does not verify"],
  malformed: ['identity_invalid', 'the identity token is not a well-formed signed JWT'],
};

function explain(err: unknown): never {
  if (err instanceof IdentityError) throw err;
  const explained = explainJoseFailure(err, OIDC_FAILURES);
  if (explained !== undefined) invalid(explained.reason, err);
  throw new IdentityError('identity_unavailable', 'the identity provider could not be reached to verify the token', { cause: err });
}

/** Builds a verifier of tokens from one OIDC provider; plug it into `createGuard({ identity })`. */
export function createOidcVerifier(options: OidcVerifierOptions): IdentityVerifier {
  parseOptions(optionsSchema, options, 'createOidcVerifier options');
  const issuer = options.issuer;
  secureUrl(issuer, 'issuer');
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? 5000;
  const cooldownMs = options.jwksCooldownMs ?? 30_000;
  const algorithms = options.algorithms ?? ['RS256', 'PS256', 'ES256', 'EdDSA'];
  const discoveryUrl = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;

  let keys: JWTVerifyGetKey | undefined;
  let discovering: Promise<JWTVerifyGetKey> | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;

  const unavailable = (cause?: unknown): never => {
    throw new IdentityError(
      'identity_unavailable',
      `the identity provider ${issuer} could not be reached; identity tokens are refused until it answers`,
      cause === undefined ? undefined : { cause },
    );
  };

  const discover = async (): Promise<JWTVerifyGetKey> => {
    const res = await fetch(discoveryUrl, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`discovery answered ${res.status}`);
    const text = await res.text();
    if (text.length > 256 * 1024) throw new Error('the discovery document is too large');
    const doc = JSON.parse(text) as { issuer?: unknown; jwks_uri?: unknown };
    // OIDC Discovery 4.3: the document's issuer must be exactly the one we were configured with.
    if (doc.issuer !== issuer) throw new Error('the discovery document names another issuer');
    if (typeof doc.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri');
    return createRemoteJWKSet(secureUrl(doc.jwks_uri, 'jwks_uri'), {
      timeoutDuration: timeoutMs,
      cooldownDuration: cooldownMs,
      cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
    });
  };

  const keySet = async (): Promise<JWTVerifyGetKey> => {
    if (keys !== undefined) return keys;
    if (discovering === undefined) {
      // After a failed discovery, wait for the cooldown before asking the provider again.
      if (clock() - failedAt < cooldownMs) unavailable();
      discovering = discover().then(
        (k) => (keys = k),
        (err: unknown) => {
          failedAt = clock();
          discovering = undefined;
          throw err;
        },
      );
    }
    try {
      return await discovering;
    } catch (err) {
      return unavailable(err);
    }
  };

  return {
    async verify(token: string): Promise<AgentIdentity> {
      if (typeof token !== 'string' || token.length === 0) invalid('no identity token was presented');
      if (token.length > MAX_TOKEN_BYTES) invalid(`the identity token is larger than ${MAX_TOKEN_BYTES} bytes`);
      if (!COMPACT_JWS.test(token)) invalid('the identity token is not a compact JWS');
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch (err) {
        return invalid('the identity token is not a well-formed JWT', err);
      }
      for (const h of FORBIDDEN_HEADERS) {
        if (h in header) invalid(`the identity token's header carries "${h}"; keys are never taken from a token`);
      }
      // Our own token kinds are never identity tokens, whoever signed them.
      if (typeof header.typ === 'string' && header.typ.toLowerCase().startsWith('tessera-')) invalid('a Tessera token is not an identity token');
      const getKey = await keySet();
      let payload: Record<string, unknown>;
      try {
        const r = await jwtVerify(token, getKey, {
          issuer,
          audience: options.audience,
          algorithms,
          clockTolerance: options.clockSkewSec ?? 30,
          currentDate: new Date(clock()),
          requiredClaims: ['iss', 'sub', 'aud', 'exp'],
          ...(options.typ === undefined ? {} : { typ: options.typ }),
        });
        payload = r.payload as Record<string, unknown>;
      } catch (err) {
        return explain(err);
      }
      // RFC 8725: a token issued in the future (beyond the skew) is refused, whatever its exp.
      if (typeof payload.iat === 'number' && payload.iat > clock() / 1000 + (options.clockSkewSec ?? 30)) {
        invalid('the identity token was issued in the future (iat)');
      }
      if (options.identityClaim === undefined && (typeof payload.sub !== 'string' || payload.sub.length === 0)) {
        invalid('the identity token has no string sub');
      }
      let id: string;
      if (options.identityClaim === undefined) {
        id = `${issuer}#${String(payload.sub)}`;
      } else {
        const v = payload[options.identityClaim];
        if (typeof v !== 'string' || v.length === 0) invalid(`the identity token has no "${options.identityClaim}" claim to name the agent`);
        id = v as string;
      }
      const attributes: Record<string, unknown> = Object.create(null);
      for (const c of ATTRIBUTE_CLAIMS) if (payload[c] !== undefined) attributes[c] = payload[c];
      return Object.freeze({
        id,
        issuer,
        source: 'oidc' as const,
        expiresAt: (payload.exp as number) * 1000,
        attributes: Object.freeze(attributes),
      });
    },
  };
}
