/**
 * What an auditor asks of the spans: per intent and per agent, what was allowed, what was denied
 * and why (by code), what a human approved, and when.
 */
import { ATTR, EVENT, OPERATION_EXECUTE_TOOL } from '../../telemetry/attributes.js';
import type { AuditSpan } from './otlp-json.js';

export interface AuditCall {
  readonly traceId: string;
  readonly spanId: string;
  readonly startMs: number;
  readonly durationMs: number;
  readonly tool: string;
  readonly agent: string;
  readonly intent: string;
  readonly decision: 'allow' | 'deny' | 'error';
  readonly code: string | undefined;
  readonly reason: string | undefined;
  readonly approval: string | undefined;
  readonly approver: string | undefined;
  readonly approvalWaitMs: number | undefined;
  readonly capabilityId: string | undefined;
  readonly callId: string | undefined;
  /** The thrown error's class name when the tool failed, so a reader can tell a timeout from a bug. */
  readonly errorType: string | undefined;
  readonly risk: string | undefined;
  readonly policyIds: readonly string[];
  readonly delegationDepth: number;
  /** Agent ids from the root grant to the caller; empty for a capability the authority granted. */
  readonly delegationChain: readonly string[];
  readonly delegationRootId: string | undefined;
  readonly sideEffects: readonly string[];
}

export interface AuditGroup {
  readonly key: string;
  allowed: number;
  denied: number;
  errors: number;
  approved: number;
  readonly deniedBy: Map<string, number>;
  readonly tools: Set<string>;
}

export interface AuditSummary {
  readonly calls: readonly AuditCall[];
  readonly byIntent: readonly AuditGroup[];
  readonly byAgent: readonly AuditGroup[];
  readonly totals: { allowed: number; denied: number; errors: number; approved: number };
  readonly ignoredSpans: number;
}

export const NO_INTENT = '(no verified capability)';
export const NO_AGENT = '(unknown agent)';

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const texts = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length > 0) : []);
const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function toCall(s: AuditSpan): AuditCall | undefined {
  const decision = s.attributes.get(ATTR.DECISION);
  if (s.attributes.get(ATTR.OPERATION_NAME) !== OPERATION_EXECUTE_TOOL) return undefined;
  if (decision !== 'allow' && decision !== 'deny' && decision !== 'error') return undefined;
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    startMs: s.startMs,
    durationMs: Math.max(0, s.endMs - s.startMs),
    tool: text(s.attributes.get(ATTR.TOOL_NAME)) ?? s.name,
    agent: text(s.attributes.get(ATTR.AGENT_ID)) ?? NO_AGENT,
    intent: text(s.attributes.get(ATTR.INTENT_ID)) ?? NO_INTENT,
    decision,
    code: text(s.attributes.get(ATTR.DENIAL_CODE)),
    reason: text(s.attributes.get(ATTR.DENIAL_REASON)),
    approval: text(s.attributes.get(ATTR.APPROVAL_DECISION)),
    approver: text(s.attributes.get(ATTR.APPROVAL_APPROVER)),
    approvalWaitMs: finite(s.attributes.get(ATTR.APPROVAL_WAIT_MS)),
    capabilityId: text(s.attributes.get(ATTR.CAPABILITY_ID)),
    callId: text(s.attributes.get(ATTR.TOOL_CALL_ID)),
    errorType: decision === 'error' ? text(s.attributes.get(ATTR.ERROR_TYPE)) : undefined,
    risk: text(s.attributes.get(ATTR.RISK)),
    policyIds: texts(s.attributes.get(ATTR.POLICY_IDS)),
    delegationDepth: finite(s.attributes.get(ATTR.DELEGATION_DEPTH)) ?? 0,
    delegationChain: texts(s.attributes.get(ATTR.DELEGATION_CHAIN)),
    delegationRootId: text(s.attributes.get(ATTR.DELEGATION_ROOT_ID)),
    sideEffects: s.events.filter((e) => e.name === EVENT.SIDE_EFFECT).map((e) => String(e.attributes.get(EVENT.SIDE_EFFECT_KIND) ?? '')),
  };
}

function group(calls: readonly AuditCall[], keyOf: (c: AuditCall) => string): AuditGroup[] {
  const groups = new Map<string, AuditGroup>();
  for (const c of calls) {
    const key = keyOf(c);
    let g = groups.get(key);
    if (g === undefined) {
      g = { key, allowed: 0, denied: 0, errors: 0, approved: 0, deniedBy: new Map(), tools: new Set() };
      groups.set(key, g);
    }
    g.tools.add(c.tool);
    if (c.decision === 'allow') g.allowed++;
    else if (c.decision === 'error') g.errors++;
    else {
      g.denied++;
      const code = c.code ?? 'unknown';
      g.deniedBy.set(code, (g.deniedBy.get(code) ?? 0) + 1);
    }
    if (c.approval === 'approved') g.approved++;
  }
  return [...groups.values()].sort((a, b) => a.key.localeCompare(b.key));
}

export function summarize(spans: readonly AuditSpan[]): AuditSummary {
  const calls = spans
    .map(toCall)
    .filter((c): c is AuditCall => c !== undefined)
    .sort((a, b) => a.startMs - b.startMs);
  const totals = { allowed: 0, denied: 0, errors: 0, approved: 0 };
  for (const c of calls) {
    if (c.decision === 'allow') totals.allowed++;
    else if (c.decision === 'deny') totals.denied++;
    else totals.errors++;
    if (c.approval === 'approved') totals.approved++;
  }
  return {
    calls,
    byIntent: group(calls, (c) => c.intent),
    byAgent: group(calls, (c) => c.agent),
    totals,
    ignoredSpans: spans.length - calls.length,
  };
}

export function deniedByText(g: AuditGroup): string {
  return [...g.deniedBy.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
}
