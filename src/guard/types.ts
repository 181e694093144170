import type { z } from 'zod';
import type { Intent } from '../capability/claims.js';
import type { DenialCode, ToolDeniedError } from '../errors.js';
import type { PrivateKeyInput, JWKS } from '../jose/keys.js';
import type { TrustedIssuer, VerifiedCapability } from '../capability/verify.js';
import type { Credential, CredentialProvider } from '../credentials/types.js';
import type { AgentIdentity, CapabilityContext, IdentityVerifier } from '../identity/types.js';
import type { TelemetryOptions } from '../telemetry/types.js';
import type { AgentPresentation } from './agent-context.js';
import type { ProofOptions } from './proof-checker.js';
import type { Approver, PolicyEngine, RiskTier } from '../policy/types.js';
import type { TesseraStore } from '../store/types.js';
import type { Clock, Duration } from '../util/time.js';

// Declared in the layer that uses them; re-exported here with the rest of the guard's API.
export type { CapabilityContext, ProofBinding, ProofSigner } from '../identity/types.js';
export type { TelemetryOptions } from '../telemetry/types.js';

export type CapabilityBinding = string | CapabilityContext;

export interface CallOptions {
  /** Overrides the capability bound with `withCapability`. */
  capability?: CapabilityBinding;
  /** The framework's tool-call id; generated when absent. */
  callId?: string;
  signal?: AbortSignal;
  /** A proof of possession made by the caller for this exact call. */
  proof?: string;
}

export interface ToolContext {
  /** The single-use credential minted for this call; revoked as soon as the call ends. */
  readonly credential: Credential;
  readonly callId: string;
  readonly agent: AgentIdentity;
  readonly intent: Intent;
  readonly capabilityId: string;
  /** Aborted when the caller aborts. */
  readonly signal: AbortSignal;
  /** Records a downstream side effect on the call's span. */
  sideEffect(kind: string, attributes?: Record<string, string | number | boolean>): void;
  /**
   * Reports data the tool read (span event `tessera.retrieval`). When the grant bounds retrieval
   * and a report passes a per-call bound, this throws the `retrieval_limit_exceeded` denial and
   * the call's result is withheld whatever the tool does next; per-intent bounds are counted
   * when the tool returns. A malformed report throws a TypeError.
   */
  retrieved(report: RetrievalReport): void;
}

/** What a tool read: where from, how many records and bytes, and the data's labels. */
export interface RetrievalReport {
  /** Where the data came from, e.g. `crm.customers`; at most 256 characters. */
  source: string;
  /** Records read; a non-negative integer, default 0. */
  records?: number;
  /** Bytes read; a non-negative integer, default 0. */
  bytes?: number;
  /** Labels of the data read, e.g. `['pii']`; at most 64, each 1 to 128 characters. */
  labels?: readonly string[];
}

/** `enforce` denies; `shadow` records the same decision and runs the tool anyway. */
export type GuardMode = 'enforce' | 'shadow';

export type ToolType = 'function' | 'extension' | 'datastore';

export interface ToolDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  /** The arguments' schema; the implementation receives a deeply frozen plain-data snapshot of what it parsed. */
  input: S;
  /** Risk tier; default `write`. `external`, `production` and `admin` call for approval by default. */
  risk?: RiskTier;
  type?: ToolType;
  credential?: {
    /** The downstream service's name in the credential's `aud`; default the tool name. */
    audience?: string;
    /** Lifetime; default the guard's (30 s). */
    ttl?: Duration;
  };
  /** Overrides the guard's `mode` for this tool. */
  mode?: GuardMode;
  /** Overrides the guard's `telemetry.evidence` for this tool. */
  evidence?: boolean;
}

export type ToolImplementation<S extends z.ZodType, R> = (args: z.output<S>, ctx: ToolContext) => Promise<R> | R;

/** A guarded tool: call it like the function it wraps. */
export interface GuardedTool<S extends z.ZodType = z.ZodType, R = unknown> {
  (args: z.input<S>, options?: CallOptions): Promise<R>;
  readonly definition: Readonly<Required<Pick<ToolDefinition<S>, 'name' | 'description' | 'input' | 'risk' | 'type'>>> & ToolDefinition<S>;
  readonly guard: Guard;
}

export interface GuardOptions {
  /** This deployment's name: every capability's `aud` must equal it. */
  audience: string;
  /** The authorities whose capabilities this guard accepts. */
  trust: TrustedIssuer | readonly TrustedIssuer[];
  /** Single use, call limits and revocation; default an in-memory store. */
  store?: TesseraStore;
  /**
   * `enforce` (default) denies what the grant, limits or policy refuse; `shadow` runs every stage,
   * records the same decision and runs the tool anyway (see docs/shadow-mode.md). A tool's own
   * `mode` wins.
   */
  mode?: GuardMode;
  credentials?: {
    /** Replaces the built-in signed call credential. */
    provider?: CredentialProvider;
    /** `iss` of built-in call credentials; default `urn:tessera:guard:<audience>`. */
    issuer?: string;
    /** Default credential lifetime; default `"30s"`. */
    ttl?: Duration;
    /** Key for built-in call credentials; default a fresh Ed25519 key. */
    signingKey?: PrivateKeyInput;
    /**
     * Where built-in call credentials are signed: `'main'` (default) on the thread running the
     * call, `'threadpool'` on libuv's thread pool so that other calls run meanwhile (more calls
     * per second on a machine with two or more cores; a signature not back within 5 s denies the
     * call `credential_unavailable`).
     */
    signIn?: 'main' | 'threadpool';
  };
  /** Policy engines, all consulted; a deny anywhere wins. Default: high-risk tiers require approval. */
  policy?: PolicyEngine | readonly PolicyEngine[];
  /** Deadline for each policy engine, ms; default 1000. */
  policyTimeoutMs?: number;
  /** Asked when policy requires approval; without one, such calls are denied. */
  approver?: Approver;
  /** Deadline for an approval, ms; default 60,000. */
  approvalTimeoutMs?: number;
  /**
   * Called when the approver reports that people have been asked (`createRemoteApprover` does
   * once the approvals service holds the request). The call never waits for it; its errors and
   * rejections are ignored.
   */
  onApprovalPending?: (info: ApprovalPendingInfo) => void | Promise<void>;
  /** Deadlines for the other dependencies the guard calls; each passed deadline denies the call. */
  timeouts?: GuardTimeouts;
  /** Verifies identity tokens the agent runtime presents. */
  identity?: IdentityVerifier;
  /** Deny calls whose runtime presented no verified identity; default false. */
  requireIdentity?: boolean;
  /** Proof of possession for capabilities bound to an agent key (`cnf.jkt`): window and algorithms. */
  proof?: ProofOptions;
  /** Deployment context for policies, e.g. `{ name: 'production' }`. */
  environment?: Record<string, unknown>;
  telemetry?: TelemetryOptions;
  /** Allowed clock skew, seconds; default 30, at most 300. */
  clockSkewSec?: number;
  /** Longest capability lifetime accepted; default `"24h"`. */
  maxCapabilityLifetime?: Duration;
  /** Deepest delegation chain accepted; default 3. */
  maxDelegationDepth?: number;
  /**
   * Memory budget of the verify cache, bytes; default 64 MiB. Entries are sized by an estimate
   * (about 1 KB for a typical capability; compiled grants shared by capabilities with the same
   * tools count once) and the oldest are evicted when it is full.
   */
  verifyCacheMaxBytes?: number;
  clock?: Clock;
}

/** What `onApprovalPending` is told: never arguments, tokens or the capability. */
export interface ApprovalPendingInfo {
  readonly callId: string;
  readonly tool: string;
  /** The approver group the question went to, when the approver names one. */
  readonly route: string | undefined;
  /** When the guard stops waiting, ms since epoch (the guard's clock). */
  readonly deadline: number;
}

/**
 * Deadlines, ms, for calls into code the guard does not own. A dependency that answers
 * synchronously is never timed; one that returns a promise must settle within its deadline or
 * the call is denied with that stage's code. Each is a positive number up to 300,000.
 */
export interface GuardTimeouts {
  /** `identity.verify` for a token not yet cached; default 10,000. Denies `identity_unavailable`. */
  identityMs?: number;
  /** Verifying a capability not yet cached, including a `trust.jwks` function or URL; default 10,000. Denies `capability_invalid`. */
  keysMs?: number;
  /** A prover signing a proof of possession; default 2,000. Denies `proof_invalid`. */
  proofMs?: number;
  /** The credential provider's `mint` (denies `credential_unavailable`) and `revoke` (recorded on the span); default 10,000. */
  credentialMs?: number;
  /** Each store operation of a call (`reserve`, `consumeOnce`); default 2,000. Denies `store_unavailable`. */
  storeMs?: number;
}

export interface Guard {
  readonly audience: string;
  readonly store: TesseraStore;
  /** The `iss` of this guard's call credentials. */
  readonly credentialIssuer: string;
  /** Public keys downstream services verify call credentials with. */
  credentialJwks(): JWKS;
  /** Runs `fn` with this capability bound to every guarded call made inside it. */
  withCapability<T>(binding: CapabilityBinding, fn: () => T): T;
  /** The binding active in the current async context, if any. */
  currentBinding(): CapabilityContext | undefined;
  /**
   * Runs `fn` as one agent: its identity token and prover apply to every guarded call inside,
   * whichever capability the call runs under (a capability binding's own values win).
   */
  withAgent<T>(agent: AgentPresentation, fn: () => T): T;
  /**
   * A dry run of a call up to (not including) approval: capability, identity, scope, limits when
   * the store can `peek`, and policy. Writes nothing and asks no one; `require_approval` means a
   * human should be asked before the call is made.
   */
  preflight(tool: string | GuardedTool<z.ZodType, unknown>, args: unknown, options?: PreflightOptions): Promise<PreflightDecision>;
  /** Verifies a capability as this guard would (cached), without calling a tool. */
  inspect(token: string): Promise<VerifiedCapability>;
  /** Revokes a capability by id: every process sharing the store refuses it from the next call. */
  revokeCapability(capabilityId: string): Promise<void>;
  /** Revokes every capability granted to this agent identity until now, plus the clock skew (emergency stop). */
  revokeAgent(agentId: string): Promise<void>;
  /** Revokes every capability granted for this intent until now, plus the clock skew. */
  revokeIntent(intentId: string): Promise<void>;
}

export interface PreflightOptions {
  /** The capability to check; default the one bound with `withCapability` (as for a call). */
  capability?: CapabilityBinding;
  /** The call id the framework will use; echoed in a denial. */
  callId?: string;
  /** Longest the dry run waits for each asynchronous answer (verification, identity, store), ms; default 1000. On timeout the answer is `deny`. Policy engines keep the guard's `policyTimeoutMs`. */
  timeoutMs?: number;
}

/** What the guard would do with this call, short of asking a human. */
export type PreflightDecision =
  | {
      readonly decision: 'allow' | 'require_approval';
      readonly tool: string;
      /** Policy's reason (for `require_approval`, why a human must approve). */
      readonly reason: string;
      readonly policyIds: readonly string[];
      /** False when the store has no `peek`: revocation and call limits were not checked. */
      readonly limitsChecked: boolean;
    }
  | {
      readonly decision: 'deny';
      readonly tool: string;
      readonly code: DenialCode;
      readonly reason: string;
      readonly policyIds: readonly string[];
      readonly limitsChecked: boolean;
      /** The denial the call itself would most likely end with (nothing was recorded). */
      readonly denial: ToolDeniedError;
    };
