/**
 * jose's verification errors, translated into our denial codes and reasons. Each kind of token
 * words its own reasons (a table per caller); which jose error means what is decided once, here.
 */
import { errors as joseErrors } from 'jose';

/**
 * What went wrong, as far as the token's holder can act on it. `claim` is any other claim jose
 * refused (`exp` is `expired`, `nbf`, `aud`, `iss` and `typ` have their own kinds).
 */
export type JoseFailureKind =
  | 'expired'
  | 'nbf'
  | 'aud'
  | 'iss'
  | 'typ'
  | 'claim'
  | 'algorithm'
  | 'unknown_key'
  | 'ambiguous_key'
  | 'signature'
  | 'malformed'
  | 'unsupported';

export interface JoseFailure {
  readonly kind: JoseFailureKind;
  /** For claim failures: the claim's name and jose's reason (which never quotes the token). */
  readonly claim?: string;
  readonly reason?: string;
  /** For claim failures: the token's decoded claims, to name a wrong value in the reason. */
  readonly payload?: unknown;
}

/** A reason per failure kind, and the code it denies with. A kind left out falls back to `claim` (for claim failures) or to the caller. */
export type JoseFailureTable<C extends string> = {
  readonly [K in JoseFailureKind]?: readonly [code: C, reason: string | ((failure: JoseFailure) => string)];
};

/** Which failure a jose error reports; undefined for anything that is not one of jose's verification errors. */
export function classifyJoseError(err: unknown): JoseFailure | undefined {
  // JWTExpired is a JWTClaimValidationFailed: test it first.
  if (err instanceof joseErrors.JWTExpired) return { kind: 'expired' };
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const kind: JoseFailureKind = err.claim === 'nbf' || err.claim === 'aud' || err.claim === 'iss' || err.claim === 'typ' ? err.claim : 'claim';
    return { kind, claim: err.claim, reason: err.reason, payload: err.payload };
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return { kind: 'algorithm' };
  if (err instanceof joseErrors.JWKSNoMatchingKey) return { kind: 'unknown_key' };
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return { kind: 'ambiguous_key' };
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return { kind: 'signature' };
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid) return { kind: 'malformed' };
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JOSENotSupported) return { kind: 'unsupported' };
  return undefined;
}

/**
 * The code and reason `table` gives the jose error `err`; undefined when `err` is not a jose
 * verification error or the table has nothing for it, so the caller's own fallback applies.
 */
export function explainJoseFailure<C extends string>(err: unknown, table: JoseFailureTable<C>): { code: C; reason: string } | undefined {
  const failure = classifyJoseError(err);
  if (failure === undefined) return undefined;
  const entry = table[failure.kind] ?? (failure.claim === undefined ? undefined : table.claim);
  if (entry === undefined) return undefined;
  const [code, reason] = entry;
  return { code, reason: typeof reason === 'string' ? reason : reason(failure) };
}
