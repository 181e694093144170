/**
 * Reads spans exported as OTLP JSON: one ExportTraceServiceRequest, an array of them, or one per
 * line (the Collector's file exporter). Only what the audit needs is kept.
 */

export type AttrValue = string | number | boolean | AttrValue[] | undefined;

export interface AuditSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: ReadonlyMap<string, AttrValue>;
  readonly events: readonly { readonly name: string; readonly attributes: ReadonlyMap<string, AttrValue> }[];
}

interface OtlpKeyValue {
  key?: unknown;
  value?: unknown;
}
interface OtlpAnyValue {
  stringValue?: unknown;
  intValue?: unknown;
  doubleValue?: unknown;
  boolValue?: unknown;
  arrayValue?: { values?: unknown } | null;
}

export class OtlpFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpFormatError';
  }
}

/** An OTLP JSON AnyValue as a plain value; anything else (a map, bytes, malformed) is undefined. */
export function otlpAnyValue(v: unknown): AttrValue {
  if (v === null || typeof v !== 'object') return undefined;
  const a = v as OtlpAnyValue;
  if (typeof a.stringValue === 'string') return a.stringValue;
  if (a.intValue !== undefined) return Number(a.intValue);
  if (a.doubleValue !== undefined) return Number(a.doubleValue);
  if (typeof a.boolValue === 'boolean') return a.boolValue;
  if (a.arrayValue !== undefined && a.arrayValue !== null) return Array.isArray(a.arrayValue.values) ? a.arrayValue.values.map(otlpAnyValue) : [];
  return undefined;
}

function attributes(list: unknown): Map<string, AttrValue> {
  const out = new Map<string, AttrValue>();
  if (!Array.isArray(list)) return out;
  for (const kv of list as OtlpKeyValue[]) {
    if (kv !== null && typeof kv === 'object' && typeof kv.key === 'string') out.set(kv.key, otlpAnyValue(kv.value));
  }
  return out;
}

// Nanosecond timestamps exceed 2^53; milliseconds are all a timeline needs. Longer digit strings
// than any timestamp are not converted (a BigInt of an untrusted length is not free).
export const nanosToMs = (n: unknown): number => {
  if (typeof n === 'number') return n / 1e6;
  if (typeof n === 'string' && /^\d{1,30}$/.test(n)) return Number(BigInt(n) / 1000n) / 1000;
  return Number.NaN;
};

function collect(request: unknown, into: AuditSpan[]): void {
  if (request === null || typeof request !== 'object') throw new OtlpFormatError('expected an OTLP ExportTraceServiceRequest object');
  const resourceSpans = (request as { resourceSpans?: unknown }).resourceSpans;
  if (!Array.isArray(resourceSpans)) throw new OtlpFormatError('expected "resourceSpans" (OTLP JSON trace export)');
  for (const rs of resourceSpans as { scopeSpans?: unknown }[]) {
    for (const ss of (Array.isArray(rs?.scopeSpans) ? rs.scopeSpans : []) as { spans?: unknown }[]) {
      for (const s of (Array.isArray(ss?.spans) ? ss.spans : []) as Record<string, unknown>[]) {
        if (s === null || typeof s !== 'object') continue;
        into.push({
          traceId: String(s.traceId ?? ''),
          spanId: String(s.spanId ?? ''),
          name: String(s.name ?? ''),
          startMs: nanosToMs(s.startTimeUnixNano),
          endMs: nanosToMs(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          events: (Array.isArray(s.events) ? (s.events as Record<string, unknown>[]) : []).map((e) => ({
            name: String(e?.name ?? ''),
            attributes: attributes(e?.attributes),
          })),
        });
      }
    }
  }
}

export function parseOtlpJson(text: string): AuditSpan[] {
  const spans: AuditSpan[] = [];
  const trimmed = text.trim();
  if (trimmed === '') return spans;
  let whole: unknown;
  try {
    whole = JSON.parse(trimmed);
  } catch {
    whole = undefined;
  }
  if (whole !== undefined) {
    for (const r of Array.isArray(whole) ? whole : [whole]) collect(r, spans);
    return spans;
  }
  const lines = trimmed.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new OtlpFormatError(`line ${i + 1} is not JSON (expected OTLP JSON, one export per line or one document)`);
    }
    collect(value, spans);
  }
  return spans;
}
