/**
 * OTLP JSON spans for the audit page, written out by hand so the page can be checked against
 * known values: agent ids long enough that only their end tells them apart, a delegated call, a
 * tool failure, an approval with its wait and policy ids, and markup in every untrusted field.
 */
import { ATTR, EVENT, OPERATION_EXECUTE_TOOL } from '../../src/telemetry/attributes.js';

export const HOSTILE = '<img src=x onerror="alert(1)">';
const PREFIX = 'spiffe://prod.eu-west-1.payments.example.org/ns/payments-critical/sa/refund-orchestrator/agents';
export const AGENTS = {
  planner: `${PREFIX}/planner`,
  researcher: `${PREFIX}/researcher`,
  mailer: `${PREFIX}/researcher-mailer-subagent-0007`,
  odd: `${PREFIX}/${HOSTILE}`,
} as const;

export interface FixtureCall {
  readonly tool: string;
  readonly agent: string;
  readonly intent: string;
  readonly decision: 'allow' | 'deny' | 'error';
  readonly code?: string;
  readonly reason?: string;
  readonly errorType?: string;
  readonly approval?: string;
  readonly approver?: string;
  readonly waitMs?: number;
  readonly policyIds?: readonly string[];
  readonly chain?: readonly string[];
  readonly sideEffect?: string;
}

export const CALLS: readonly FixtureCall[] = [
  { tool: 'tickets.read', agent: AGENTS.planner, intent: 'refund-2024-11-0042', decision: 'allow' },
  { tool: 'tickets.read', agent: AGENTS.planner, intent: 'refund-2024-11-0042', decision: 'deny', code: 'arguments_out_of_scope', reason: 'ticketId must equal "4711" (intent "refund-2024-11-0042")' },
  {
    tool: 'payments.refund',
    agent: AGENTS.planner,
    intent: 'refund-2024-11-0042',
    decision: 'allow',
    approval: 'approved',
    approver: 'oncall@example.com',
    waitMs: 42_500,
    policyIds: ['refunds-need-a-human', 'business-hours'],
    sideEffect: 'refund.issued',
  },
  { tool: 'search.web', agent: AGENTS.researcher, intent: 'refund-2024-11-0042', decision: 'error', errorType: 'UpstreamTimeoutError', chain: [AGENTS.planner, AGENTS.researcher] },
  { tool: 'email.send', agent: AGENTS.mailer, intent: 'refund-2024-11-0042', decision: 'deny', code: 'call_limit_exceeded', reason: '"email.send" may be called at most 1 time(s) under this capability', chain: [AGENTS.planner, AGENTS.researcher, AGENTS.mailer] },
  { tool: 'email.send', agent: AGENTS.mailer, intent: 'refund-2024-11-0042', decision: 'allow', chain: [AGENTS.planner, AGENTS.researcher, AGENTS.mailer], sideEffect: 'email.sent' },
  { tool: 'deploy', agent: AGENTS.odd, intent: HOSTILE, decision: 'deny', code: 'approval_timeout', reason: `no answer for ${HOSTILE}`, approval: 'timeout', waitMs: 60_000, policyIds: [HOSTILE] },
  { tool: 'tickets.delete', agent: AGENTS.planner, intent: 'refund-2024-11-0042', decision: 'deny', code: 'tool_not_granted', reason: 'the capability for intent "refund-2024-11-0042" does not grant "tickets.delete"' },
];

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { arrayValue: { values: AnyValue[] } };
const str = (s: string): AnyValue => ({ stringValue: s });
const kv = (key: string, value: AnyValue) => ({ key, value });
const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** One ExportTraceServiceRequest holding a span per call, one second apart. */
export function auditFixture(start = Date.UTC(2024, 10, 20, 9, 30, 0)): string {
  const spans = CALLS.map((c, i) => {
    const depth = c.chain ? c.chain.length - 1 : 0;
    const attributes = [
      kv(ATTR.OPERATION_NAME, str(OPERATION_EXECUTE_TOOL)),
      kv(ATTR.TOOL_NAME, str(c.tool)),
      kv(ATTR.TOOL_CALL_ID, str(`call_${hex(i + 1, 4)}`)),
      kv(ATTR.AGENT_ID, str(c.agent)),
      kv(ATTR.INTENT_ID, str(c.intent)),
      kv(ATTR.CAPABILITY_ID, str(`cap-${hex(0xa000 + i, 8)}`)),
      kv(ATTR.DECISION, str(c.decision)),
      kv(ATTR.DELEGATION_DEPTH, { intValue: String(depth) }),
      kv(ATTR.RISK, str(c.tool === 'tickets.read' ? 'read' : 'external')),
    ];
    if (c.code) attributes.push(kv(ATTR.DENIAL_CODE, str(c.code)), kv(ATTR.ERROR_TYPE, str(c.code)));
    if (c.reason) attributes.push(kv(ATTR.DENIAL_REASON, str(c.reason)));
    if (c.errorType) attributes.push(kv(ATTR.ERROR_TYPE, str(c.errorType)));
    if (c.approval) attributes.push(kv(ATTR.APPROVAL_DECISION, str(c.approval)));
    if (c.approver) attributes.push(kv(ATTR.APPROVAL_APPROVER, str(c.approver)));
    if (c.waitMs !== undefined) attributes.push(kv(ATTR.APPROVAL_WAIT_MS, { doubleValue: c.waitMs }));
    if (c.policyIds) attributes.push(kv(ATTR.POLICY_IDS, { arrayValue: { values: c.policyIds.map(str) } }));
    if (c.chain) {
      attributes.push(kv(ATTR.DELEGATION_CHAIN, { arrayValue: { values: c.chain.map(str) } }));
      attributes.push(kv(ATTR.DELEGATION_ROOT_ID, str('cap-root-0001')));
    }
    const startNs = BigInt(start + i * 1000) * 1_000_000n;
    return {
      traceId: hex(0x4bf92f35 + i, 32),
      spanId: hex(0x00f067aa + i, 16),
      name: `execute_tool ${c.tool}`,
      kind: 1,
      startTimeUnixNano: String(startNs),
      endTimeUnixNano: String(startNs + 3_000_000n),
      attributes,
      events: c.sideEffect ? [{ name: EVENT.SIDE_EFFECT, timeUnixNano: String(startNs), attributes: [kv(EVENT.SIDE_EFFECT_KIND, str(c.sideEffect))] }] : [],
    };
  });
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 'tessera-guard' }, spans }] }] });
}
