/**
 * Guard spans on the real OpenTelemetry SDK, with the attributes and events the guard records
 * (evidence built to the contract), for tests that need spans before a guard records them.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createSpanCapture } from '../../src/testing/span-capture.js';
import { ATTR, OPERATION_EXECUTE_TOOL } from '../../src/telemetry/attributes.js';
import { call, type CallInput } from './support.js';

/** Call times are offsets from this instant (epoch ms; a small number would read as a performance timestamp). */
const BASE = Date.UTC(2026, 10, 28, 12);

export function guardSpans(calls: CallInput[]): ReadableSpan[] {
  const capture = createSpanCapture();
  for (const input of calls) {
    const c = call(input);
    const start = BASE + c.startMs;
    const span = capture.tracer.startSpan(`${OPERATION_EXECUTE_TOOL} ${c.tool}`, { startTime: start });
    span.setAttributes({
      [ATTR.OPERATION_NAME]: OPERATION_EXECUTE_TOOL,
      [ATTR.TOOL_NAME]: c.tool,
      [ATTR.AGENT_ID]: c.agent,
      [ATTR.INTENT_ID]: c.intentId,
      [ATTR.CAPABILITY_ID]: c.capabilityId!,
      [ATTR.DECISION]: c.decision,
      ...(c.code === undefined ? {} : { [ATTR.DENIAL_CODE]: c.code }),
      ...(c.enforced ? {} : { 'tessera.enforced': false }),
      ...(c.evidence === undefined ? {} : { 'tessera.evidence': JSON.stringify({ v: 1, purpose: c.evidence.purpose, args: c.evidence.args }) }),
    });
    for (const r of c.retrievals) {
      span.addEvent('tessera.retrieval', { 'tessera.retrieval.source': 'db', 'tessera.retrieval.records': r.records, 'tessera.retrieval.bytes': r.bytes, 'tessera.retrieval.labels': [...r.labels] });
    }
    span.end(start + 5);
  }
  return capture.spans();
}
