/**
 * Data retrieval as a tool reports it (`ctx.retrieved`): one span event per report, summed per
 * call and checked against the grant's per-call bounds as it arrives; the per-intent sums are
 * added atomically in the store when the tool returns.
 */
import type { Span } from '@opentelemetry/api';
import type { RetrievalBound } from '../capability/claims.js';
import type { CounterAddition } from '../store/types.js';
import { retrievalKey } from '../store/types.js';
import { EVENT } from '../telemetry/attributes.js';
import type { RetrievalReport } from './types.js';

const MAX_SOURCE = 256;
const MAX_LABELS = 64;
const MAX_LABEL = 128;

const count = (v: unknown, name: string): number => {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`ctx.retrieved: ${name} must be a non-negative integer`);
  return v;
};

/** The report as plain, checked values; a TypeError names what is wrong. */
function checkReport(report: RetrievalReport): { source: string; records: number; bytes: number; labels: string[] } {
  if (report === null || typeof report !== 'object') throw new TypeError('ctx.retrieved needs { source, records?, bytes?, labels? }');
  const { source, records, bytes, labels } = report;
  if (typeof source !== 'string' || source === '' || source.length > MAX_SOURCE) {
    throw new TypeError(`ctx.retrieved: source must be a string of 1 to ${MAX_SOURCE} characters`);
  }
  const out = { source, records: count(records, 'records'), bytes: count(bytes, 'bytes'), labels: [] as string[] };
  if (labels !== undefined) {
    if (!Array.isArray(labels) || labels.length > MAX_LABELS) throw new TypeError(`ctx.retrieved: labels must be an array of at most ${MAX_LABELS} strings`);
    for (const l of labels as unknown[]) {
      if (typeof l !== 'string' || l === '' || l.length > MAX_LABEL) throw new TypeError(`ctx.retrieved: each label must be a string of 1 to ${MAX_LABEL} characters`);
      out.labels.push(l);
    }
  }
  return out;
}

/** One call's retrieval: its sums so far and, once a bound is passed, why. */
export class RetrievalTally {
  records = 0;
  bytes = 0;
  /** Set when a report passed a per-call bound or could not be counted. */
  exceeded: string | undefined = undefined;

  constructor(
    private readonly span: Span,
    private readonly tool: string,
    readonly bound: RetrievalBound | undefined,
  ) {}

  /** Records the report; returns why the call is now over its bound, or undefined. */
  add(report: RetrievalReport): string | undefined {
    let r: ReturnType<typeof checkReport>;
    try {
      r = checkReport(report);
    } catch (err) {
      // A report that cannot be counted cannot be shown to be within the bound.
      if (this.bound !== undefined) this.exceeded ??= `"${this.tool}" made a retrieval report that could not be counted`;
      throw err;
    }
    this.span.addEvent(EVENT.RETRIEVAL, {
      [EVENT.RETRIEVAL_SOURCE]: r.source,
      [EVENT.RETRIEVAL_RECORDS]: r.records,
      [EVENT.RETRIEVAL_BYTES]: r.bytes,
      [EVENT.RETRIEVAL_LABELS]: r.labels,
    });
    this.records += r.records;
    this.bytes += r.bytes;
    const b = this.bound;
    if (b === undefined || this.exceeded !== undefined) return this.exceeded;
    if (b.maxRecords !== undefined && this.records > b.maxRecords) {
      this.exceeded = `"${this.tool}" read ${this.records} records in one call; the grant allows at most ${b.maxRecords}`;
    } else if (b.maxBytes !== undefined && this.bytes > b.maxBytes) {
      this.exceeded = `"${this.tool}" read ${this.bytes} bytes in one call; the grant allows at most ${b.maxBytes}`;
    } else if (b.labels !== undefined) {
      const label = r.labels.find((l) => !b.labels!.includes(l));
      if (label !== undefined) this.exceeded = `"${this.tool}" read data labelled ${JSON.stringify(label.slice(0, 64))}, which the grant does not allow`;
    }
    return this.exceeded;
  }

  /** The per-intent additions this call makes, or none when the grant has no per-intent bound. */
  additions(intentId: string, ttlMs: number): CounterAddition[] {
    const p = this.bound?.perIntent;
    const out: CounterAddition[] = [];
    if (p?.maxRecords !== undefined) out.push({ key: retrievalKey(intentId, this.tool, 'records'), amount: this.records, limit: p.maxRecords, ttlMs });
    if (p?.maxBytes !== undefined) out.push({ key: retrievalKey(intentId, this.tool, 'bytes'), amount: this.bytes, limit: p.maxBytes, ttlMs });
    return out;
  }
}

/** Why a refused per-intent addition denies, in words. */
export function perIntentReason(tool: string, key: string, limit: number, total: number, intentId: string): string {
  const unit = key.endsWith(':bytes') ? 'bytes' : 'records';
  return `"${tool}" may read at most ${limit} ${unit} under intent "${intentId}" and ${total} were already read; this call's data is withheld`;
}
