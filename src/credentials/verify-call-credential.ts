/**
 * For the downstream service: accept a call credential once, and never after its call ended.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { CALL_CREDENTIAL_TYP } from '../jose/typ.js';
import type { JWKS } from '../jose/keys.js';
import { z } from 'zod';
import { CredentialRejectedError } from '../errors.js';
import type { TesseraStore } from '../store/types.js';
import { clockOption } from '../util/option-schemas.js';
import { jwksOption } from '../jose/options.js';
import { storeOption } from '../store/options.js';
import { parseOptions } from '../util/options.js';
import { type Clock, systemClock } from '../util/time.js';
import { CREDENTIAL_MARGIN_SEC, type CallCredentialClaims } from './call-credential.js';
import { COMPACT_JWS } from '../jose/compact-jws.js';
import { explainJoseFailure, type JoseFailureTable } from '../jose/explain-failure.js';

export interface VerifyCallCredentialOptions {
  /** The guard's credential keys (`guard.credentialJwks()`). */
  jwks: JWKS;
  /** The guard's credential issuer (`guard.credentialIssuer`). */
  issuer: string;
  /** This service's name: the tool's `credential.audience` (default: the tool name). */
  audience: string;
  /** The store the guard registered the credential in; single use is enforced there. */
  store: TesseraStore;
  /** Require the credential to be for this tool. */
  tool?: string;
  /** Require the credential to be bound to these arguments (base64url SHA-256 of canonical JSON). */
  argsHash?: string;
  clock?: Clock;
  /** Allowed clock skew in seconds; default 5, at most 30 (the store keeps spent markers 30 s past expiry). */
  clockSkewSec?: number;
}

const CREDENTIAL_FAILURES: JoseFailureTable<CredentialRejectedError['code']> = {
  expired: ['credential_expired', 'the call credential has expired'],
};

const optionsSchema = z.strictObject({
  jwks: jwksOption,
  issuer: z.string().min(1),
  audience: z.string().min(1),
  store: storeOption,
  tool: z.string().min(1).optional(),
  argsHash: z.string().min(1).optional(),
  clock: clockOption.optional(),
  clockSkewSec: z.number().min(0).max(CREDENTIAL_MARGIN_SEC).optional(),
});

const reject = (code: CredentialRejectedError['code'], reason: string, cause?: unknown): never => {
  throw new CredentialRejectedError(code, reason, cause === undefined ? undefined : { cause });
};

/**
 * Verifies a call credential and consumes it: the first presentation succeeds, any replay or
 * any use after the guard revoked it fails with `replay_detected`.
 *
 * Checked: compact form and size, exact `typ`, signature (EdDSA or ES256) by a key in `jwks`,
 * `iss`, `aud`, `exp`/`iat` with small skew, optional tool and argument binding, single use.
 * Not checked: anything about the caller's network identity; pair it with mTLS if you need that.
 */
export async function verifyCallCredential(token: string, options: VerifyCallCredentialOptions): Promise<CallCredentialClaims> {
  // There is no construction step to validate at: a misspelt option (`argHash`) would silently
  // drop a binding check, so the options are checked on every call (a few microseconds).
  parseOptions(optionsSchema, options, 'verifyCallCredential options');
  if (typeof token !== 'string' || token.length === 0 || token.length > 8192 || !COMPACT_JWS.test(token)) {
    reject('credential_invalid', 'not a compact JWS call credential');
  }
  let typ: unknown;
  try {
    typ = decodeProtectedHeader(token).typ;
  } catch (err) {
    reject('credential_invalid', 'not a well-formed JWS', err);
  }
  if (typ !== CALL_CREDENTIAL_TYP) reject('credential_invalid', `typ is ${JSON.stringify(typ ?? null)}, expected "${CALL_CREDENTIAL_TYP}"`);
  const clock = options.clock ?? systemClock;
  const skew = options.clockSkewSec ?? 5;
  let claims: CallCredentialClaims;
  try {
    const r = await jwtVerify(token, createLocalJWKSet(options.jwks), {
      algorithms: ['EdDSA', 'ES256'],
      issuer: options.issuer,
      audience: options.audience,
      currentDate: new Date(clock()),
      clockTolerance: skew,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
    });
    claims = r.payload as unknown as CallCredentialClaims;
  } catch (err) {
    const explained = explainJoseFailure(err, CREDENTIAL_FAILURES);
    if (explained !== undefined) return reject(explained.code, explained.reason, err);
    return reject('credential_invalid', 'the call credential does not verify against the guard keys, issuer and audience', err);
  }
  if (options.tool !== undefined && claims.tool !== options.tool) reject('credential_invalid', `the credential is for tool "${String(claims.tool)}"`);
  if (options.argsHash !== undefined && claims.args_sha256 !== options.argsHash) {
    reject('credential_invalid', 'the credential is bound to other arguments');
  }
  let state: Awaited<ReturnType<TesseraStore['consumeCredential']>>;
  try {
    state = await options.store.consumeCredential(claims.jti);
  } catch (err) {
    return reject('store_unavailable', 'the credential store could not be reached', err);
  }
  if (state === 'spent') reject('replay_detected', 'this call credential was already used (single use)');
  if (state === 'revoked') reject('replay_detected', 'this call credential was revoked when its call ended');
  if (state === 'unknown') reject('credential_invalid', 'this call credential was never registered or has expired');
  // Only 'ok' lets the downstream act; any other answer from a store is refused.
  if (state !== 'ok') reject('store_unavailable', 'the credential store gave an answer it does not define');
  return claims;
}
