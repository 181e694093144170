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
import type { TelemetryOptions } from './types.js';
import { ATTR, EVENT, METRIC, OPERATION_EXECUTE_TOOL, spanName } from './attributes.js';

export const INSTRUMENTATION_NAME = 'tessera';
export const INSTRUMENTATION_VERSION = '0.1.0';

export interface Recorder {
  readonly recordArguments: boolean;
  /** Starts (or, in enrich mode, adopts) the span for one call. */
  start(tool: string, attributes: Attributes): { span: Span; owned: boolean; ctx: Context };
  sideEffect(span: Span, kind: string, attributes: Record<string, string | number | boolean> | undefined): void;
  /** Positional rather than an options object: this runs once per call. */
  finish(
    call: { span: Span; owned: boolean },
    decision: 'allow' | 'deny' | 'error',
    tool: string,
    overheadUs: number,
    code: string | undefined,
    errorType: string | undefined,
  ): void;
}

export function createRecorder(options: TelemetryOptions = {}): Recorder {
  const tracer: Tracer = options.tracer ?? trace.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  // The metrics API has no proxy meter: instruments are made at the first call rather than when
  // the guard is created, so a host that starts its SDK after creating the guard still gets them.
  let instruments: { decisions: Counter; overhead: Histogram } | undefined;
  const instrumentsNow = () => {
    if (instruments === undefined) {
      const meter = options.meter ?? metrics.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
      instruments = {
        decisions: meter.createCounter(METRIC.DECISIONS, { description: 'Guarded calls by outcome and denial code.', unit: '{call}' }),
        overhead: meter.createHistogram(METRIC.OVERHEAD, {
          description: "Time the guard added to a call, excluding the tool's own run.",
          unit: 's',
        }),
      };
    }
    return instruments;
  };
  const enrich = options.spanMode === 'enrich';

  // Metric attributes are low-cardinality by design (decision x tool x code): build each set once.
  const attributeSets = new Map<string, { overhead: Attributes; decision: Attributes }>();
  const metricAttributes = (decision: string, tool: string, code: string | undefined) => {
    const key = `${decision}\u0000${tool}\u0000${code ?? ''}`;
    let sets = attributeSets.get(key);
    if (sets === undefined) {
      const overheadAttrs = Object.freeze({ [ATTR.DECISION]: decision, [ATTR.TOOL_NAME]: tool });
      const decisionAttrs = Object.freeze(code === undefined ? { ...overheadAttrs } : { ...overheadAttrs, [ATTR.DENIAL_CODE]: code });
      sets = { overhead: overheadAttrs, decision: decisionAttrs };
      if (attributeSets.size < 10_000) attributeSets.set(key, sets);
    }
    return sets;
  };

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

    finish(call, decision, tool, overheadUs, code, errorType) {
      const { span } = call;
      span.setAttribute(ATTR.DECISION, decision);
      span.setAttribute(ATTR.GUARD_OVERHEAD_US, overheadUs);
      if (decision !== 'allow') {
        const type = code ?? errorType ?? 'error';
        span.setAttribute(ATTR.ERROR_TYPE, type);
        span.setStatus({ code: SpanStatusCode.ERROR, message: type });
      }
      if (call.owned) span.end();
      const attrs = metricAttributes(decision, tool, code);
      const { overhead, decisions } = instrumentsNow();
      overhead.record(overheadUs / 1e6, attrs.overhead);
      decisions.add(1, attrs.decision);
    },
  };
}

export { OPERATION_EXECUTE_TOOL };
