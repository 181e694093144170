/**
 * One identity type, whatever proved it: a SPIFFE JWT-SVID, an OIDC token, or the runtime's word.
 */

export type IdentitySource = 'jwt-svid' | 'oidc' | 'asserted';

export interface AgentIdentity {
  /** The workload identity a capability's `sub` must equal: a SPIFFE ID, or `<iss>#<sub>` for OIDC. */
  readonly id: string;
  /** SPIFFE trust domain, or the OIDC issuer. */
  readonly trustDomain?: string;
  readonly issuer?: string;
  /** How the identity was proven. `asserted` means the host vouched for it without a token. */
  readonly source: IdentitySource;
  /** When the proof of identity stops being valid (ms since epoch), if it has an end. */
  readonly expiresAt?: number;
  /** Claims a policy may use (roles, groups); never the token itself. */
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/** Verifies an identity token presented by the agent runtime. Throws `IdentityError` on failure. */
export interface IdentityVerifier {
  /** `signal` aborts when the caller stops waiting (the guard's `timeouts.identityMs`). */
  verify(token: string, options?: { readonly signal?: AbortSignal }): Promise<AgentIdentity>;
}

/** What the agent runtime binds to a call: the capability, and optionally who is calling. */
export interface CapabilityContext {
  /** The capability token (compact JWS). Never passed through the model. */
  capability: string;
  /** An identity token (JWT-SVID or OIDC) for the agent running the call. */
  identity?: string;
  /** A signer of proof-of-possession tokens, for capabilities bound to the agent's key. */
  prover?: ProofSigner;
}

/** Signs a `tessera-pop+jwt` proof for one call (see `createAgentKey`). */
export interface ProofSigner {
  /** `signal` aborts when the guard stops waiting (`timeouts.proofMs`). */
  prove(binding: ProofBinding, options?: { readonly signal?: AbortSignal }): Promise<string> | string;
}

/** What a proof of possession is bound to. */
export interface ProofBinding {
  readonly tool: string;
  readonly callId: string;
  /** base64url SHA-256 of the canonical JSON of the arguments as the agent passed them. */
  readonly argsHash: string;
  /** base64url SHA-256 of the capability token. */
  readonly capabilityHash: string;
  readonly audience: string;
}
