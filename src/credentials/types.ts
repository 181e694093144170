/**
 * Just-in-time credentials: minted for one call, revoked right after it.
 */

export interface CredentialRequest {
  /** Id the guard reserved for this credential in the store; providers may use it as `jti`. */
  readonly credentialId: string;
  readonly tool: string;
  readonly callId: string;
  /** base64url SHA-256 of the canonical JSON of the parsed arguments. */
  readonly argsHash: string;
  readonly agent: string;
  readonly intentId: string;
  readonly capabilityId: string;
  /** Who the credential is for downstream (the tool's `credential.audience`, or the tool name). */
  readonly audience: string;
  /** Lifetime in seconds. */
  readonly ttlSec: number;
  readonly signal: AbortSignal;
}

export interface Credential {
  /** Public id of the credential (recorded on spans). */
  readonly id: string;
  /** The secret the tool presents downstream. Never recorded. */
  readonly token: string;
  /** ms since the epoch. */
  readonly expiresAt: number;
  /** e.g. `tessera-call+jwt`, `aws-sts`, `vault-lease`. */
  readonly type: string;
}

/**
 * Mints and revokes per-call credentials. A throw from `mint` denies the call
 * (`credential_unavailable`); a throw from `revoke` is recorded on the span.
 */
export interface CredentialProvider {
  mint(request: CredentialRequest): Credential | Promise<Credential>;
  revoke(credential: Credential, request: CredentialRequest): void | Promise<void>;
}
