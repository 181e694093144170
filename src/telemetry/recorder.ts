/**
 * Span and metric recording through `@opentelemetry/api` only: the host chooses the SDK.
 */
import {
  context,
  metrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { TelemetryOptions } from '../guard/types.js';
import { ATTR, EVENT, METRIC, OPERATION_EXECUTE_TOOL, spanName } from './attributes.js';

export const INSTRUMENTATION_NAME = 'tessera';
export const INSTRUMENTATION_VERSION = '0.1.0';

export interface Recorder {
  readonly recordArguments: boolean;
  /** Starts (or, in enrich mode, adopts) the span for one call. */
  start(tool: string, attributes: Attributes): { span: Span; owned: boolean; ctx: Context };
  sideEffect(span: Span, kind: string, attributes: Record<string, string | number | boolean> | undefined): void;
  finish(
    call: { span: Span; owned: boolean },
    outcome: { decision: 'allow' | 'deny' | 'error'; code?: string; errorType?: string; tool: string; overheadUs: number },
  ): void;
}

export function createRecorder(options: TelemetryOptions = {}): Recorder {
  const tracer: Tracer = options.tracer ?? trace.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  const meter = options.meter ?? metrics.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  const decisions: Counter = meter.createCounter(METRIC.DECISIONS, {
    description: 'Guarded calls by outcome and denial code.',
    unit: '{call}',
  });
  const overhead: Histogram = meter.createHistogram(METRIC.OVERHEAD, {
    description: "Time the guard added to a call, excluding the tool's own run.",
    unit: 's',
  });
  const enrich = options.spanMode === 'enrich';

  return {
    recordArguments: options.recordArguments === true,

    start(tool, attributes) {
      const active = context.active();
      if (enrich) {
        const existing = trace.getSpan(active);
        if (existing !== undefined && existing.isRecording()) {
          existing.setAttributes(attributes);
          return { span: existing, owned: false, ctx: active };
        }
      }
      const span = tracer.startSpan(spanName(tool), { kind: SpanKind.INTERNAL, attributes }, active);
      return { span, owned: true, ctx: trace.setSpan(active, span) };
    },

    sideEffect(span, kind, attributes) {
      const attrs: Attributes = { [EVENT.SIDE_EFFECT_KIND]: kind };
      if (attributes) for (const [k, v] of Object.entries(attributes)) attrs[`${EVENT.SIDE_EFFECT}.${k}`] = v;
      span.addEvent(EVENT.SIDE_EFFECT, attrs);
    },

    finish(call, outcome) {
      const { span } = call;
      span.setAttribute(ATTR.DECISION, outcome.decision);
      span.setAttribute(ATTR.GUARD_OVERHEAD_US, outcome.overheadUs);
      if (outcome.decision !== 'allow') {
        span.setAttribute(ATTR.ERROR_TYPE, outcome.code ?? outcome.errorType ?? 'error');
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.code ?? outcome.errorType ?? 'error' });
      }
      if (call.owned) span.end();
      const metricAttrs: Attributes = { [ATTR.DECISION]: outcome.decision, [ATTR.TOOL_NAME]: outcome.tool };
      overhead.record(outcome.overheadUs / 1e6, metricAttrs);
      if (outcome.code !== undefined) metricAttrs[ATTR.DENIAL_CODE] = outcome.code;
      decisions.add(1, metricAttrs);
    },
  };
}

export { OPERATION_EXECUTE_TOOL };
