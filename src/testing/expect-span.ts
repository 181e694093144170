/**
 * Span assertions that read like the dashboard a person would look at: "there is a span for
 * email.send, it was denied, and the code was tool_not_granted".
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { DenialCode } from '../errors.js';
import { describeSpans, summarizeSpan, type SpanCapture } from './span-capture.js';

export interface SpanExpectation {
  tool?: string;
  decision?: 'allow' | 'deny' | 'error';
  code?: DenialCode;
  /** A side effect kind the span must carry (see `ctx.sideEffect`). */
  sideEffect?: string;
  callId?: string;
  /** Exactly this many spans must match; default: at least one. */
  times?: number;
}

export type SpanSource = SpanCapture | readonly ReadableSpan[] | { readonly spans: SpanCapture };

export function spansOf(source: SpanSource): readonly ReadableSpan[] {
  if (Array.isArray(source)) return source;
  const s = source as Partial<SpanCapture> & { spans?: unknown };
  if (typeof s.spans === 'function') return (s as SpanCapture).spans();
  if (s.spans !== null && typeof s.spans === 'object' && typeof (s.spans as SpanCapture).spans === 'function') {
    return (s.spans as SpanCapture).spans();
  }
  throw new TypeError('expected a SpanCapture, a test authority or an array of spans');
}

export function spanMatches(span: ReadableSpan, want: SpanExpectation): boolean {
  const x = summarizeSpan(span);
  if (x.decision === undefined) return false;
  if (want.tool !== undefined && x.tool !== want.tool) return false;
  if (want.decision !== undefined && x.decision !== want.decision) return false;
  if (want.code !== undefined && x.code !== want.code) return false;
  if (want.callId !== undefined && x.callId !== want.callId) return false;
  if (want.sideEffect !== undefined && !x.sideEffects.includes(want.sideEffect)) return false;
  return true;
}

const describeWant = (want: SpanExpectation): string =>
  Object.entries(want)
    .filter(([k]) => k !== 'times')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ') || '(any guard span)';

/**
 * Asserts that the captured spans hold a guard span matching `want`, and returns the last one.
 * On failure the error lists every span that was recorded.
 */
export function expectSpan(source: SpanSource, want: SpanExpectation): ReadableSpan {
  const spans = spansOf(source);
  const hits = spans.filter((s) => spanMatches(s, want));
  const ok = want.times === undefined ? hits.length > 0 : hits.length === want.times;
  if (!ok) {
    const count = want.times === undefined ? 'a span' : `${want.times} span(s)`;
    throw new Error(
      `expected ${count} with ${describeWant(want)}, found ${hits.length}. Recorded spans:\n${describeSpans(spans)}`,
    );
  }
  return hits[hits.length - 1]!;
}
