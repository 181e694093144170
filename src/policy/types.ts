/**
 * Policy-as-code at the moment of the call. RBAC-style rules are only the baseline; an engine
 * sees the whole request and answers allow, deny or require approval.
 */
import type { AgentIdentity } from '../identity/types.js';
import type { Intent } from '../capability/claims.js';

/** How much harm a tool can do; `external`, `production` and `admin` call for a human by default. */
export type RiskTier = 'read' | 'write' | 'external' | 'production' | 'admin';
export const RISK_TIERS: readonly RiskTier[] = ['read', 'write', 'external', 'production', 'admin'];
/** "a write action", "an external action": risk tiers are named in denial reasons. */
export const riskArticle = (risk: string): string => (/^[aeiou]/.test(risk) ? 'an' : 'a');

export const HIGH_RISK_TIERS: ReadonlySet<RiskTier> = new Set(['external', 'production', 'admin']);

export interface PolicyRequest {
  readonly agent: AgentIdentity;
  readonly intent: Intent;
  readonly tool: { readonly name: string; readonly risk: RiskTier; readonly description: string };
  /** The parsed arguments the implementation would receive. */
  readonly args: Readonly<Record<string, unknown>>;
  readonly capabilityId: string;
  readonly delegation: { readonly depth: number; readonly chain: readonly string[] };
  /** Deployment context, e.g. `{ name: 'production' }`. */
  readonly environment: Readonly<Record<string, unknown>>;
  /** Time of the request, ms since epoch (the guard's clock). */
  readonly time: number;
}

export type PolicyEffect = 'allow' | 'deny' | 'require_approval';

export interface PolicyDecision {
  readonly effect: PolicyEffect;
  /** Ids of the policies that decided. */
  readonly policyIds?: readonly string[];
  /** Why, in words a developer can act on. */
  readonly reason?: string;
}

export interface PolicyEngine {
  /** A short name for spans and reasons, e.g. `rules` or `cedar`. */
  readonly name: string;
  evaluate(request: PolicyRequest): PolicyDecision | Promise<PolicyDecision>;
}

export interface ApprovalRequest {
  readonly agent: string;
  readonly intent: Intent;
  readonly tool: string;
  readonly risk: RiskTier;
  /** A safe preview of the arguments: values truncated, keys that look secret masked. */
  readonly argsPreview: Readonly<Record<string, string>>;
  readonly argsHash: string;
  readonly capabilityId: string;
  readonly callId: string;
  /** Why approval is needed (the policy's reason). */
  readonly why: string;
  readonly policyIds: readonly string[];
  /** Aborted when the deadline passes or the call is cancelled. */
  readonly signal: AbortSignal;
  /** How long the guard waits for the answer, ms from when the approver is called. */
  readonly timeoutMs?: number;
  /**
   * For approvers that hand the question to people elsewhere: call once the question is out,
   * with the approver group it went to. The guard records a `tessera.approval.pending` span
   * event and calls its `onApprovalPending` hook; later calls are ignored.
   */
  readonly pending?: (info: { readonly route?: string }) => void;
}

/** The exact call an approval covers. */
export interface ApprovalBinding {
  readonly tool: string;
  readonly argsHash: string;
  readonly capabilityId: string;
}

export interface ApprovalAnswer {
  readonly approved: boolean;
  /** Who answered (a person's or system's id), recorded on the span. */
  readonly approver?: string;
  readonly reason?: string;
  /**
   * The approval's id in the approval system (a ticket, a message id). An approval with an id
   * is single use: the guard consumes `approval:<id>` in its store, and an id seen before is
   * refused, so an approval replayed for another call never counts twice.
   */
  readonly id?: string;
  /**
   * The call this approval was given for. When present it must equal the call being decided
   * (tool, argument hash, capability id); an approval for another call is refused.
   */
  readonly binding?: ApprovalBinding;
}

export type Approver = (request: ApprovalRequest) => Promise<ApprovalAnswer> | ApprovalAnswer;
