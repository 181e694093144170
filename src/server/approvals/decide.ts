/**
 * The one place an approval decision is checked and recorded. The inbox page and the admin
 * endpoint both call it, so the rules cannot drift apart between them.
 */
import type { ApprovalDecision, ApprovalsStore } from './store.js';

export interface DecideInput {
  readonly id: string;
  /** The authenticated approver's identity (a person's or system's id). */
  readonly approverIdentity: string;
  /** The approver's role names (from the grant policy); one must equal the request's route. */
  readonly approverRoles: readonly string[];
  readonly outcome: 'approved' | 'denied';
  readonly reason?: string;
  /** ms since epoch. */
  readonly now: number;
}

export type DecideDenialCode =
  | 'approval_not_found'
  | 'approval_invalid'
  | 'approver_not_in_route'
  | 'approval_self'
  | 'approval_expired'
  | 'approval_already_decided';

export type DecideResult =
  | { readonly ok: true; readonly decision: ApprovalDecision }
  | { readonly ok: false; readonly code: DecideDenialCode; readonly reason: string };

export const MAX_REASON_LENGTH = 500;
const ID_SHAPE = /^[A-Za-z0-9_-]{1,64}$/;
// Control characters (other than ordinary spaces) would let a reason forge lines in a log or a page.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

const refuse = (code: DecideDenialCode, reason: string): DecideResult => ({ ok: false, code, reason });

/**
 * Checks that this approver may decide this request now, then records the decision; the first
 * decision wins, atomically in the store. Never throws for untrusted input; a store failure
 * rejects (the caller answers 503 and nothing is recorded).
 */
export async function decide(store: ApprovalsStore, input: DecideInput): Promise<DecideResult> {
  const { id, approverIdentity, approverRoles, outcome, now } = input;
  if (typeof id !== 'string' || !ID_SHAPE.test(id)) return refuse('approval_not_found', 'no approval request has this id');
  if (typeof approverIdentity !== 'string' || approverIdentity.length === 0 || approverIdentity.length > 512) {
    return refuse('approval_invalid', 'the approver identity must be a non-empty string of at most 512 characters');
  }
  if (outcome !== 'approved' && outcome !== 'denied') return refuse('approval_invalid', 'the outcome must be "approved" or "denied"');
  if (!Array.isArray(approverRoles)) return refuse('approval_invalid', 'the approver roles must be a list of role names');
  if (typeof now !== 'number' || !Number.isFinite(now)) return refuse('approval_invalid', 'now must be ms since the epoch');
  let reason: string | undefined;
  if (input.reason !== undefined) {
    if (typeof input.reason !== 'string') return refuse('approval_invalid', 'the reason must be a string');
    const cleaned = input.reason.replace(CONTROL, ' ').trim();
    if (cleaned.length > MAX_REASON_LENGTH) return refuse('approval_invalid', `the reason is longer than ${MAX_REASON_LENGTH} characters`);
    if (cleaned !== '') reason = cleaned;
  }

  const stored = await store.get(id);
  if (stored === undefined) return refuse('approval_not_found', 'no approval request has this id (it may have expired and been forgotten)');
  const { request } = stored;
  if (stored.decision !== undefined) {
    return refuse('approval_already_decided', `this request was already ${stored.decision.outcome}; the first decision wins`);
  }
  if (now > request.deadline) return refuse('approval_expired', 'the deadline of this request has passed; the call was already refused');
  if (!approverRoles.some((r) => r === request.route)) {
    return refuse('approver_not_in_route', `only holders of the role "${request.route}" may decide this request`);
  }
  // Denying one's own request is harmless; approving it would make the agent its own approver.
  if (outcome === 'approved' && approverIdentity === request.agent) {
    return refuse('approval_self', "an identity may not approve its own agent's request");
  }

  const decision: ApprovalDecision =
    reason === undefined ? { outcome, approver: approverIdentity, decidedAt: now } : { outcome, approver: approverIdentity, reason, decidedAt: now };
  const result = await store.decide(id, decision);
  if (result.ok) return { ok: true, decision: result.decision };
  if (result.why === 'decided') return refuse('approval_already_decided', `this request was already ${result.decision.outcome}; the first decision wins`);
  if (result.why === 'expired') return refuse('approval_expired', 'the deadline of this request has passed; the call was already refused');
  return refuse('approval_not_found', 'no approval request has this id (it may have expired and been forgotten)');
}
