/**
 * One guarded call as the advisor sees it, normalised from an exported OTLP span or from an
 * in-memory span: who called which tool under which intent, what the guard decided, and the
 * evidence (argument shapes, never values) and retrievals the span carries.
 */
import { nanosToMs, otlpAnyValue } from '../cli/audit/otlp-json.js';
import { ATTR, EVENT, OPERATION_EXECUTE_TOOL } from '../telemetry/attributes.js';
import type { EvidenceShape } from '../telemetry/evidence.js';

/** The shape of one argument value, as the evidence records it. */
export type Shape = EvidenceShape;

export interface Evidence {
  readonly purpose: string;
  /** Keyed by untrusted argument names: a prototype-free object. */
  readonly args: Readonly<Record<string, Shape>>;
}

export interface Retrieval {
  readonly records: number;
  readonly bytes: number;
  readonly labels: readonly string[];
}

export interface ObservedCall {
  readonly tool: string;
  readonly agent: string;
  readonly intentId: string;
  readonly capabilityId: string | undefined;
  readonly decision: 'allow' | 'deny' | 'error';
  readonly code: string | undefined;
  /** False for a call of a tool in shadow mode: it ran whatever the decision. */
  readonly enforced: boolean;
  readonly startMs: number;
  /** Undefined when the span carries no evidence, or evidence in a form this reader does not know. */
  readonly evidence: Evidence | undefined;
  /** True when the span carried an evidence attribute this reader could not read. */
  readonly malformedEvidence: boolean;
  readonly retrievals: readonly Retrieval[];
}

export const NO_AGENT = '(unknown agent)';
export const NO_INTENT = '(no verified capability)';

const MAX_DEPTH = 8;
const MAX_ITEMS = 16;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === 'string';
const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Checks one shape against the contract; undefined when it does not fit. */
function readShape(v: unknown, depth: number): Shape | undefined {
  if (!isObj(v) || depth > MAX_DEPTH) return undefined;
  switch (v.t) {
    case 'url':
      return str(v.scheme) && str(v.host) ? { t: 'url', scheme: v.scheme, host: v.host } : undefined;
    case 'email':
      return str(v.domain) && str(v.h) ? { t: 'email', domain: v.domain, h: v.h } : undefined;
    case 'path':
      return str(v.dir) ? { t: 'path', dir: v.dir } : undefined;
    case 'string':
      return count(v.len) && str(v.h) ? { t: 'string', len: v.len, h: v.h } : undefined;
    case 'number':
      return typeof v.v === 'number' && Number.isFinite(v.v) ? { t: 'number', v: v.v } : undefined;
    case 'boolean':
      return typeof v.v === 'boolean' ? { t: 'boolean', v: v.v } : undefined;
    case 'array': {
      if (!count(v.len) || !Array.isArray(v.items) || v.items.length > MAX_ITEMS) return undefined;
      const items: Shape[] = [];
      for (const item of v.items) {
        const s = readShape(item, depth + 1);
        if (s === undefined) return undefined;
        items.push(s);
      }
      return { t: 'array', len: v.len, items };
    }
    case 'object':
      return count(v.keys) ? { t: 'object', keys: v.keys } : undefined;
    case 'null':
      return { t: 'null' };
    default:
      return undefined;
  }
}

/** Parses the `tessera.evidence` attribute; undefined for anything not in the contract's form. */
export function parseEvidence(text: string): Evidence | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(raw) || raw.v !== 1 || !str(raw.purpose) || !isObj(raw.args)) return undefined;
  const args = Object.create(null) as Record<string, Shape>;
  for (const [name, value] of Object.entries(raw.args)) {
    const s = readShape(value, 0);
    if (s === undefined) return undefined;
    args[name] = s;
  }
  return { purpose: raw.purpose, args };
}

/** Reads attributes by key: a Map from the OTLP reader, or a plain record from the SDK. */
export type AttributeGetter = (key: string) => unknown;

export interface SpanView {
  readonly name: string;
  readonly startMs: number;
  attribute: AttributeGetter;
  readonly events: readonly { readonly name: string; attribute: AttributeGetter }[];
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const nonNegative = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** The call a guard span records, or undefined for any other span. */
export function observeSpan(span: SpanView): ObservedCall | undefined {
  const get = span.attribute;
  if (get(ATTR.OPERATION_NAME) !== OPERATION_EXECUTE_TOOL) return undefined;
  const decision = get(ATTR.DECISION);
  if (decision !== 'allow' && decision !== 'deny' && decision !== 'error') return undefined;
  const rawEvidence = get(ATTR.EVIDENCE);
  const evidence = typeof rawEvidence === 'string' ? parseEvidence(rawEvidence) : undefined;
  const retrievals: Retrieval[] = [];
  for (const e of span.events) {
    if (e.name !== EVENT.RETRIEVAL) continue;
    const labels = e.attribute(EVENT.RETRIEVAL_LABELS);
    retrievals.push({
      records: nonNegative(e.attribute(EVENT.RETRIEVAL_RECORDS)),
      bytes: nonNegative(e.attribute(EVENT.RETRIEVAL_BYTES)),
      labels: Array.isArray(labels) ? labels.filter((l): l is string => typeof l === 'string') : [],
    });
  }
  return {
    tool: text(get(ATTR.TOOL_NAME)) ?? span.name,
    agent: text(get(ATTR.AGENT_ID)) ?? NO_AGENT,
    intentId: text(get(ATTR.INTENT_ID)) ?? NO_INTENT,
    capabilityId: text(get(ATTR.CAPABILITY_ID)),
    decision,
    code: text(get(ATTR.DENIAL_CODE)),
    enforced: get(ATTR.ENFORCED) !== false,
    startMs: span.startMs,
    evidence,
    malformedEvidence: rawEvidence !== undefined && evidence === undefined,
    retrievals,
  };
}

/** The SDK's in-memory span (`ReadableSpan`), structurally: the testing kit passes these. */
export interface ReadableSpanLike {
  readonly name: string;
  readonly startTime: readonly [number, number];
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly events: readonly { readonly name: string; readonly attributes?: Readonly<Record<string, unknown>> | undefined }[];
}

const own = (record: Readonly<Record<string, unknown>> | undefined): AttributeGetter => (key) =>
  record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;

export function observeReadableSpan(span: ReadableSpanLike): ObservedCall | undefined {
  return observeSpan({
    name: span.name,
    startMs: span.startTime[0] * 1000 + span.startTime[1] / 1e6,
    attribute: own(span.attributes),
    events: span.events.map((e) => ({ name: e.name, attribute: own(e.attributes) })),
  });
}

/** The attributes the advisor reads; any other key is skipped without decoding its value. */
const WANTED: ReadonlySet<string> = new Set([
  ATTR.OPERATION_NAME,
  ATTR.DECISION,
  ATTR.EVIDENCE,
  ATTR.TOOL_NAME,
  ATTR.AGENT_ID,
  ATTR.INTENT_ID,
  ATTR.CAPABILITY_ID,
  ATTR.DENIAL_CODE,
  ATTR.ENFORCED,
  EVENT.RETRIEVAL_RECORDS,
  EVENT.RETRIEVAL_BYTES,
  EVENT.RETRIEVAL_LABELS,
]);

function otlpAttributes(list: unknown): AttributeGetter {
  const found = new Map<string, unknown>();
  if (Array.isArray(list)) {
    for (const kv of list as { key?: unknown; value?: unknown }[]) {
      if (kv !== null && typeof kv === 'object' && typeof kv.key === 'string' && WANTED.has(kv.key)) found.set(kv.key, otlpAnyValue(kv.value));
    }
  }
  return (key) => found.get(key);
}

/** The call an OTLP JSON span object records, or undefined for any other span. */
export function observeOtlpSpan(s: Record<string, unknown>): ObservedCall | undefined {
  const events = Array.isArray(s.events) ? (s.events as unknown[]) : [];
  return observeSpan({
    name: typeof s.name === 'string' ? s.name : '',
    startMs: nanosToMs(s.startTimeUnixNano),
    attribute: otlpAttributes(s.attributes),
    events: events
      .filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object')
      .map((e) => ({ name: typeof e.name === 'string' ? e.name : '', attribute: otlpAttributes(e.attributes) })),
  });
}
