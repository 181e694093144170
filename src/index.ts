/**
 * Tessera: least-privilege, just-in-time authority for AI agents' tools.
 * Every name exported here is public API; adding one is a decision. Parts most programs do not
 * need live at subpaths: `tessera-guard/approvers` (terminal and scripted approvers),
 * `tessera-guard/telemetry` (the span and metric schema), `tessera-guard/spiffe` (SPIFFE ID
 * parsing), and the stores, engines, adapters and servers.
 */

// Control plane
export { createAuthority } from './capability/authority.js';
export type { Authority, AuthorityOptions, GrantRequest } from './capability/authority.js';
export type { DecisionLog, DecisionLogSink, SignedTreeHead } from './telemetry/decision-log/index.js';
export { generateSigningKey, importSigningKey } from './jose/keys.js';
export type { JWKS, PrivateKeyInput, SigningAlgorithm, SigningKey } from './jose/keys.js';
export { CAPABILITY_TYP, CALL_CREDENTIAL_TYP, PROOF_TYP } from './jose/typ.js';
export type { CapabilityClaims, Intent, ToolGrant, ActorClaim, RetrievalBound } from './capability/claims.js';
export type { ArgConstraint } from './capability/constraints.js';
export type { TrustedIssuer, VerifiedCapability } from './capability/verify.js';
export { delegate } from './capability/delegation.js';
export type { DelegateOptions, DelegationKey, DelegationRequest } from './capability/delegation.js';

// Data plane
export { createGuard } from './guard/create-guard.js';
export { guardTool } from './guard/guard-tool.js';
export type {
  CallOptions,
  CapabilityBinding,
  CapabilityContext,
  Guard,
  GuardedTool,
  GuardMode,
  GuardOptions,
  GuardTimeouts,
  ProofBinding,
  ProofSigner,
  RetrievalReport,
  TelemetryOptions,
  ToolContext,
  ToolDefinition,
  ToolImplementation,
  ToolType,
} from './guard/types.js';

// Credentials
export { verifyCallCredential } from './credentials/verify-call-credential.js';
export type { VerifyCallCredentialOptions } from './credentials/verify-call-credential.js';
export type { CallCredentialClaims } from './credentials/call-credential.js';
export type { Credential, CredentialProvider, CredentialRequest } from './credentials/types.js';

// Store
export { createMemoryStore } from './store/memory.js';
export type { MemoryStore, MemoryStoreOptions } from './store/memory.js';
export { revocationKey } from './store/types.js';
export type { AdditionResult, CallReservation, CounterAddition, CredentialState, ReservationResult, TesseraStore } from './store/types.js';

// Tripwires
export { createTripwires, DEFAULT_BURST_CODES } from './guard/tripwires.js';
export type { TripEvent, TripwireDecision, TripwireEngine, TripwireHost, TripwireOptions } from './guard/tripwires.js';
export { liftQuarantine, listQuarantines } from './store/tripwire-state.js';
export type { QuarantineLift, QuarantineRecord, TripFacts, TripwireKind, TripwireState, TripwireStore } from './store/tripwire-state.js';

// Identity
export type { AgentIdentity, IdentitySource, IdentityVerifier } from './identity/types.js';
export { IdentityError } from './identity/errors.js';
export type { IdentityErrorCode } from './identity/errors.js';
export { createJwtSvidVerifier, JWT_SVID_ALGORITHMS } from './identity/jwt-svid.js';
export type { JwtSvidVerifierOptions } from './identity/jwt-svid.js';
export type { TrustBundleDocument, TrustBundleSource } from './identity/trust-bundle.js';
export { createOidcVerifier } from './identity/oidc.js';
export type { OidcVerifierOptions } from './identity/oidc.js';
export { createIdentityRouter } from './identity/router.js';
export type { IdentityRouterOptions } from './identity/router.js';
export { createAgentKey, importAgentKey } from './identity/agent-key.js';
export type { AgentKey, AgentKeyOptions, ProofClaims } from './identity/agent-key.js';
export { createProofBinding } from './identity/proof-binding.js';
export type { ProofBindingInput } from './identity/proof-binding.js';
export type { ProofAlgorithm, ProofOptions } from './guard/proof-checker.js';
export type { AgentPresentation } from './guard/agent-context.js';

// Policy
export { riskBaseline } from './policy/baseline.js';
export { HIGH_RISK_TIERS, RISK_TIERS } from './policy/types.js';
export { createRulesEngine, RULES_DEFAULT_ID, RULES_HIGH_RISK_ID } from './policy/rules.js';
export type { RulesDocument, RulesEngine, RulesEngineOptions } from './policy/rules.js';
export { loadRulesFile, parseRules } from './policy/rules-loader.js';
export type { ParseRulesOptions, RulesFormat } from './policy/rules-loader.js';
export { InvalidPolicyError } from './policy/errors.js';
export type { PolicyIssue } from './policy/errors.js';
export type {
  ApprovalAnswer,
  ApprovalBinding,
  ApprovalRequest,
  Approver,
  PolicyDecision,
  PolicyEffect,
  PolicyEngine,
  PolicyRequest,
  RiskTier,
} from './policy/types.js';

// Errors
export {
  CapabilityError,
  CredentialProvisioningError,
  CredentialRejectedError,
  DENIAL_CODES,
  DENIAL_STANDARDS,
  isTesseraError,
  isToolDeniedError,
  standardsTags,
  TesseraError,
  ToolDeniedError,
} from './errors.js';
export type { AnyTesseraError, CredentialRejectionCode, DenialCode, StandardsTags, TesseraErrorCode } from './errors.js';


// Utilities shared with agent runtimes and downstream services
export { canonicalJson, hashArguments } from './util/canonical.js';
export type { Clock, Duration } from './util/time.js';
