/**
 * The guard's record of one decision in the decision log: appended when the call ends, from what
 * the pipeline learnt on the way (the call and its span's attributes). One JSON line and one
 * SHA-256 per call; never the arguments, the capability or the credential, only ids and a hash.
 */
import type { Span } from '@opentelemetry/api';
import type { VerifiedCapability } from '../capability/verify.js';
import { ATTR } from '../telemetry/attributes.js';
import type { DecisionLog } from '../telemetry/decision-log/log.js';
import { recordedAttributes } from '../telemetry/recorder.js';

/** The parts of a guarded call its record reads. */
export interface DecidedCall {
  readonly tool: { readonly name: string };
  readonly callId: string;
  readonly span: Span;
  readonly cap: VerifiedCapability | undefined;
  readonly policyIds: readonly string[];
  readonly credential: { readonly id: string } | undefined;
  readonly decision: 'allow' | 'deny' | 'error';
  readonly code: string | undefined;
}

export function logDecision(log: DecisionLog, call: DecidedCall): void {
  const a = recordedAttributes(call.span);
  const cap = call.cap;
  const approval = a?.[ATTR.APPROVAL_DECISION];
  try {
    log.append('decision', {
      agent: cap?.subject,
      intent: cap?.intent.id,
      tool: call.tool.name,
      callId: call.callId,
      argsHash: a?.[ATTR.ARGS_HASH],
      decision: call.decision,
      code: call.code,
      capabilityId: cap?.id,
      credentialId: call.credential?.id,
      policyIds: call.policyIds,
      approval: approval === undefined ? undefined : { decision: approval, approver: a?.[ATTR.APPROVAL_APPROVER] },
    });
  } catch {
    // Only a closed log refuses an append; the log then refuses calls itself (see `refusal`).
  }
}
