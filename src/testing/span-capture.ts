/**
 * Span capture with the real OpenTelemetry SDK: an in-memory exporter behind a simple (synchronous)
 * processor, on a provider of its own. Its tracer is handed to the guard through
 * `telemetry.tracer`, so nothing global is registered and parallel test files never mix spans.
 */
import type { Tracer } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR, EVENT } from '../telemetry/attributes.js';

export interface SpanCapture {
  /** Pass as `createGuard({ telemetry: { tracer } })`. */
  readonly tracer: Tracer;
  /** Every finished span since the last reset, oldest first. */
  spans(): ReadableSpan[];
  /** Only the guard's `execute_tool` spans, optionally for one tool. */
  toolSpans(tool?: string): ReadableSpan[];
  /** Forgets every span captured so far; call it in `beforeEach`. */
  reset(): void;
  shutdown(): Promise<void>;
}

export function createSpanCapture(): SpanCapture {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
  return {
    tracer: provider.getTracer('tessera-testing'),
    spans,
    toolSpans: (tool) =>
      spans().filter(
        (s) => s.attributes[ATTR.OPERATION_NAME] === 'execute_tool' && (tool === undefined || s.attributes[ATTR.TOOL_NAME] === tool),
      ),
    reset: () => exporter.reset(),
    shutdown: () => provider.shutdown(),
  };
}

/** What a guard span says, in the words the matchers use. */
export interface SpanSummary {
  readonly name: string;
  readonly tool: string | undefined;
  readonly decision: string | undefined;
  readonly code: string | undefined;
  readonly callId: string | undefined;
  readonly sideEffects: readonly string[];
}

export function summarizeSpan(span: ReadableSpan): SpanSummary {
  const str = (key: string): string | undefined => {
    const v = span.attributes[key];
    return typeof v === 'string' ? v : undefined;
  };
  return {
    name: span.name,
    tool: str(ATTR.TOOL_NAME),
    decision: str(ATTR.DECISION),
    code: str(ATTR.DENIAL_CODE),
    callId: str(ATTR.TOOL_CALL_ID),
    sideEffects: span.events
      .filter((e) => e.name === EVENT.SIDE_EFFECT)
      .map((e) => String(e.attributes?.[EVENT.SIDE_EFFECT_KIND] ?? '')),
  };
}

export function describeSpans(spans: readonly ReadableSpan[]): string {
  if (spans.length === 0) return '  (no spans were recorded)';
  return spans
    .map((s) => {
      const x = summarizeSpan(s);
      const effects = x.sideEffects.length > 0 ? ` side effects: ${x.sideEffects.join(', ')}` : '';
      return `  - ${x.name}: decision=${x.decision ?? '-'}${x.code ? ` code=${x.code}` : ''}${effects}`;
    })
    .join('\n');
}
