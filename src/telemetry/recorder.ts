/**
 * Span and metric recording through `@opentelemetry/api` only: the host chooses the SDK.
 *
 * The pipeline writes a call's attributes as it learns them into a plain object, and the SDK
 * gets them in one write when the call ends: a span start with the call's first attributes (the
 * ones samplers see) and one setAttributes, instead of a dozen separate writes. The SDK span is
 * started then, or earlier if code inside the tool needs it as a parent, with the call's true
 * start time.
 */
import {
  context,
  metrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type AttributeValue,
  type Context,
  type Counter,
  type Exception,
  type Histogram,
  type Link,
  type ObservableResult,
  type Span,
  type SpanContext,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import type { TelemetryOptions } from './types.js';
import { ATTR, EVENT, METRIC, OPERATION_EXECUTE_TOOL, spanName } from './attributes.js';

export const INSTRUMENTATION_NAME = 'tessera';
export const INSTRUMENTATION_VERSION = '0.1.0';

/**
 * Denial codes that mean the guard itself could not decide (a dependency failed), as opposed to
 * deciding no. Only these, and a tool that threw, mark the span as an error.
 */
export const GUARD_FAILURE_CODES: ReadonlySet<string> = new Set([
  'identity_unavailable',
  'store_unavailable',
  'credential_unavailable',
  'policy_error',
]);

/** Whether a call's outcome is an error of the guarded operation (span status ERROR, `error.type`). */
export function isOperationError(decision: 'allow' | 'deny' | 'error', code: string | undefined): boolean {
  return decision === 'error' || (decision === 'deny' && code !== undefined && GUARD_FAILURE_CODES.has(code));
}

export interface Recorder {
  readonly recordArguments: boolean;
  /** Starts (or, in enrich mode, adopts) the span for one call. */
  start(tool: string, attributes: Attributes): { span: Span; owned: boolean; ctx: Context };
  sideEffect(span: Span, kind: string, attributes: Record<string, string | number | boolean> | undefined): void;
  /** Counts a call of a shadow-mode tool that enforce mode would have denied. */
  shadowDenial(tool: string, code: string): void;
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

type PendingEvent =
  | { readonly name: string; readonly attributes: Attributes | undefined; readonly time: TimeInput; readonly exception?: undefined }
  | { readonly name?: undefined; readonly exception: Exception; readonly time: TimeInput };

/**
 * One call's span as the pipeline sees it. Writes land in plain fields; `flush` hands them to the
 * real span in one go. The real span is started lazily: by `flush`, or by `spanContext()` when
 * code running inside the tool starts a child span or propagates the context.
 */
class CallSpan implements Span {
  attributes: Attributes;
  private events: PendingEvent[] | undefined;
  private links: Link[] | undefined;
  private status: SpanStatus | undefined;
  private real: Span | undefined;
  private done = false;

  constructor(
    private readonly tracer: Tracer | undefined,
    private name: string,
    /** What the span starts with (and samplers see); everything written later goes to `attributes`. */
    private readonly initial: Attributes,
    private readonly parent: Context,
    private readonly startTime: number,
    /** In enrich mode, the framework's span that receives everything instead. */
    adopted: Span | undefined,
  ) {
    this.attributes = {};
    this.real = adopted;
    if (adopted !== undefined) this.setAttributes(initial);
  }

  private materialize(): Span {
    if (this.real === undefined) {
      const options = { kind: SpanKind.INTERNAL, attributes: this.initial, startTime: this.startTime, ...(this.links ? { links: this.links } : {}) };
      this.real = this.tracer!.startSpan(this.name, options, this.parent);
      this.links = undefined;
    }
    return this.real;
  }

  spanContext(): SpanContext {
    return this.materialize().spanContext();
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    const own = this.attributes;
    for (const k in attributes) if (Object.hasOwn(attributes, k)) own[k] = attributes[k];
    return this;
  }
  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    const timed = attributesOrTime === undefined || typeof attributesOrTime === 'number' || attributesOrTime instanceof Date || Array.isArray(attributesOrTime);
    (this.events ??= []).push({
      name,
      attributes: timed ? undefined : (attributesOrTime as Attributes),
      time: time ?? (timed && attributesOrTime !== undefined ? (attributesOrTime as TimeInput) : performance.now()),
    });
    return this;
  }
  addLink(link: Link): this {
    if (this.real !== undefined) this.real.addLink(link);
    else (this.links ??= []).push(link);
    return this;
  }
  addLinks(links: Link[]): this {
    for (const l of links) this.addLink(l);
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(name: string): this {
    this.name = name;
    this.real?.updateName(name);
    return this;
  }
  /** The recorder ends the span when the call finishes; code inside the tool cannot end it early. */
  end(_endTime?: TimeInput): void {}
  isRecording(): boolean {
    return !this.done && (this.real === undefined || this.real.isRecording());
  }
  recordException(exception: Exception, time?: TimeInput): void {
    // Replayed through the real span's recordException, so the event has the SDK's usual shape.
    (this.events ??= []).push({ exception, time: time ?? performance.now() });
  }

  /** Hands everything to the real span; ends it when it is this call's own. */
  flush(owned: boolean, status: SpanStatus | undefined): void {
    this.done = true;
    const span = this.materialize();
    // One write of everything learnt since the start: the SDK checks each value once.
    span.setAttributes(this.attributes);
    if (this.events !== undefined) {
      for (const e of this.events) {
        if (e.exception !== undefined) span.recordException(e.exception, e.time);
        else span.addEvent(e.name, e.attributes, e.time);
      }
    }
    const finalStatus = status ?? this.status;
    if (finalStatus !== undefined) span.setStatus(finalStatus);
    if (owned) span.end(performance.now());
  }
}

export function createRecorder(options: TelemetryOptions = {}): Recorder {
  const tracer: Tracer = options.tracer ?? trace.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  const enrich = options.spanMode === 'enrich';

  // Decisions are counted here and reported to the meter when it collects (an asynchronous
  // counter): a call pays one map lookup instead of the SDK hashing its attributes on every add.
  // Metric attributes are low-cardinality by design (decision x tool x code): each set is built once.
  interface Tally {
    readonly decision: Attributes;
    readonly overhead: Attributes;
    count: number;
  }
  const tallies = new Map<string, Tally>();
  const MAX_TALLIES = 10_000;
  const tallyOf = (decision: string, tool: string, code: string | undefined): Tally => {
    const key = code === undefined ? `${decision}\u0000${tool}` : `${decision}\u0000${tool}\u0000${code}`;
    let t = tallies.get(key);
    if (t === undefined) {
      // Tool names come from registered tools and codes from a fixed list, so this stays small;
      // past the cap (a host registering tools without end) calls are counted under an empty tool name.
      if (tallies.size >= MAX_TALLIES && tool !== '') return tallyOf(decision, '', code);
      const overhead = Object.freeze({ [ATTR.DECISION]: decision, [ATTR.TOOL_NAME]: tool });
      t = { overhead, decision: code === undefined ? overhead : Object.freeze({ ...overhead, [ATTR.DENIAL_CODE]: code }), count: 0 };
      tallies.set(key, t);
    }
    return t;
  };

  // The metrics API has no proxy meter: instruments are made at the first call rather than when
  // the guard is created, so a host that starts its SDK after creating the guard still gets them.
  let overhead: Histogram | undefined;
  const overheadHistogram = (): Histogram => {
    if (overhead === undefined) {
      const meter = options.meter ?? metrics.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
      overhead = meter.createHistogram(METRIC.OVERHEAD, {
        description: "Time the guard added to a call, excluding the tool's own run.",
        unit: 's',
      });
      meter
        .createObservableCounter(METRIC.DECISIONS, { description: 'Guarded calls by outcome and denial code.', unit: '{call}' })
        .addCallback((result: ObservableResult) => {
          for (const t of tallies.values()) result.observe(t.count, t.decision);
        });
    }
    return overhead;
  };
  let shadowDenials: Counter | undefined;

  return {
    recordArguments: options.recordArguments === true,

    start(tool, attributes) {
      const active = context.active();
      const startTime = performance.now();
      if (enrich) {
        const existing = trace.getSpan(active);
        if (existing !== undefined && existing.isRecording()) {
          return { span: new CallSpan(undefined, spanName(tool), attributes, active, startTime, existing), owned: false, ctx: active };
        }
      }
      const span = new CallSpan(tracer, spanName(tool), attributes, active, startTime, undefined);
      return { span, owned: true, ctx: trace.setSpan(active, span) };
    },

    sideEffect(span, kind, attributes) {
      const attrs: Attributes = { [EVENT.SIDE_EFFECT_KIND]: kind };
      if (attributes) for (const [k, v] of Object.entries(attributes)) attrs[`${EVENT.SIDE_EFFECT}.${k}`] = v;
      span.addEvent(EVENT.SIDE_EFFECT, attrs);
    },

    shadowDenial(tool, code) {
      if (shadowDenials === undefined) {
        const meter = options.meter ?? metrics.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
        shadowDenials = meter.createCounter(METRIC.SHADOW_DENIALS, {
          description: 'Calls of shadow-mode tools that enforce mode would have denied, and that ran anyway.',
          unit: '{call}',
        });
      }
      shadowDenials.add(1, { [ATTR.DENIAL_CODE]: code, [ATTR.TOOL_NAME]: tool });
    },

    finish(call, decision, tool, overheadUs, code, errorType) {
      const { span } = call;
      let status: SpanStatus | undefined;
      const failed = isOperationError(decision, code);
      if (span instanceof CallSpan) {
        const a = span.attributes;
        a[ATTR.DECISION] = decision;
        a[ATTR.GUARD_OVERHEAD_US] = overheadUs;
        if (failed) {
          const type = code ?? errorType ?? 'error';
          a[ATTR.ERROR_TYPE] = type;
          status = { code: SpanStatusCode.ERROR, message: type };
        }
        span.flush(call.owned, status);
      } else {
        // Only spans this recorder started reach here; anything else is written to directly.
        span.setAttributes({ [ATTR.DECISION]: decision, [ATTR.GUARD_OVERHEAD_US]: overheadUs });
        if (failed) {
          const type = code ?? errorType ?? 'error';
          span.setAttribute(ATTR.ERROR_TYPE, type);
          span.setStatus({ code: SpanStatusCode.ERROR, message: type });
        }
        if (call.owned) span.end();
      }
      const tally = tallyOf(decision, tool, code);
      tally.count++;
      overheadHistogram().record(overheadUs / 1e6, tally.overhead);
    },
  };
}

export { OPERATION_EXECUTE_TOOL };
