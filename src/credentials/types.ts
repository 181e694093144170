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
  /**
   * The call's arguments: the deeply frozen snapshot the grant was checked against. Set by the
   * guard; absent only in a request made by hand.
   */
  readonly args?: Readonly<Record<string, unknown>>;
  /**
   * Whether a call of this tool with these arguments would be inside the capability's grant
   * (every link of a delegation chain). A provider narrows what it hands out with it, e.g. to the
   * tables a `table: { in: [...] }` constraint allows. Set by the guard; a provider that needs it
   * and finds it absent must refuse to mint.
   */
  readonly grantAllows?: (args: Readonly<Record<string, unknown>>) => boolean;
  /**
   * Adds an event to the call's span: what was provisioned or revoked, by name and id only,
   * never a secret. Set by the guard.
   */
  readonly addEvent?: (name: string, attributes: Readonly<Record<string, string | number | boolean>>) => void;
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
