/**
 * What tripwires keep in the store the guards share: windowed event counts per agent, the stop a
 * tripwire writes, and one quarantine record per agent saying who tripped it, why and when, and
 * who lifted it. The store offers small atomic primitives (`TripwireState`); the rules that use
 * them (merging a second trip into a record, lifting exactly the stop a tripwire wrote) live here
 * once, for every store.
 *
 * On Redis each primitive touches one key (so one hash slot): a count lives under
 * `trip:{<agent>}:<name>`, the records under `trip:quarantines`, a stop under its revocation key.
 * Every key expires.
 */
import { revocationKey, type TesseraStore } from './types.js';

type MaybePromise<T> = T | Promise<T>;

/** The primitives a store offers tripwires; each is atomic on its own. */
export interface TripwireState {
  /**
   * Records one event under `key` at `nowMs`, keeping only the latest `limit` events, and answers
   * how many of those lie within the last `windowMs` (the event just recorded included). The key
   * expires `windowMs` after its last event.
   */
  countEvent(key: string, limit: number, windowMs: number, nowMs: number): MaybePromise<number>;
  /**
   * Revokes `key` for every token issued at or before `atMs` (as `TesseraStore.revoke`: the later
   * time and the longer life win) and answers the time the key held before, 0 when none.
   */
  stop(key: string, atMs: number, ttlMs: number): MaybePromise<number>;
  /**
   * Undoes a stop: only when `key` still holds exactly `stoppedAtMs`, it is set back to
   * `previousMs` (keeping its expiry), or deleted when `previousMs` is 0. Answers `lifted`, `kept`
   * (the key holds another time: a later stop that is not this one) or `absent` (expired).
   */
  restore(key: string, stoppedAtMs: number, previousMs: number): MaybePromise<'lifted' | 'kept' | 'absent'>;
  /** The stored record of `agent`, raw, or undefined. */
  record(agent: string): MaybePromise<string | undefined>;
  /**
   * Compare-and-set of one agent's record: written only when the stored raw value is `expected`
   * (undefined: no record). A new record is refused (`full`) while `maxRecords` unexpired
   * records are held. The records' key lives at least `ttlMs`.
   */
  putRecord(agent: string, expected: string | undefined, raw: string, expiresAtMs: number, maxRecords: number, nowMs: number, ttlMs: number): MaybePromise<'written' | 'changed' | 'full'>;
  /** Every stored record, raw, expired ones included until a write prunes them. */
  records(): MaybePromise<readonly string[]>;
}

/** What a store with tripwire support has. */
export type TripwireStore = TesseraStore & { readonly tripwires: TripwireState };

export function hasTripwireState(store: TesseraStore): store is TripwireStore {
  const t = (store as { tripwires?: unknown }).tripwires;
  return typeof t === 'object' && t !== null && ['countEvent', 'stop', 'restore', 'record', 'putRecord', 'records'].every((m) => typeof (t as Record<string, unknown>)[m] === 'function');
}

/** The tripwires a guard can set. */
export type TripwireKind = 'canary' | 'denial_burst' | 'foreign_audience' | 'identity_mismatch' | 'call_rate';

/** What one trip is about: who tripped which tripwire, why, where and when. Never a token or arguments. */
export interface TripFacts {
  readonly agent: string;
  /** The tripwire that tripped (for a record: the first one). */
  readonly tripwire: TripwireKind;
  /** Why, in words. */
  readonly reason: string;
  /** `agent`: every capability of the agent; `intent`: only the intent named. */
  readonly scope: 'agent' | 'intent';
  /** The intent of the call that tripped (the one stopped when `scope` is `intent`). */
  readonly intent: string | undefined;
  /** The tool of the call that tripped. */
  readonly tool: string | undefined;
  /** Which guard tripped it (its audience). */
  readonly by: string;
  /** When it (first) tripped, ms since the epoch. */
  readonly atMs: number;
}

/** One agent's quarantine: what tripped, which stop was written, and who lifted it. */
export interface QuarantineRecord extends TripFacts {
  /** How many trips this record covers (a quarantined agent can trip again in other processes). */
  readonly trips: number;
  /** The revocation key the stop was written under and the time written. */
  readonly stopKey: string;
  readonly stopAtMs: number;
  /** The time that key held before the first trip, when that was a stop of someone else's; 0 for none. */
  readonly previousStopMs: number;
  /** When the record (and the stop) expires, ms since the epoch. */
  readonly expiresAtMs: number;
  /** Set when a person lifted it. */
  readonly lifted?: {
    readonly by: string;
    readonly reason: string;
    readonly atMs: number;
    /** `lifted`: the tripwire's stop was removed; `kept`: a later stop by someone else stays. */
    readonly stop: 'lifted' | 'kept' | 'absent';
  };
}

/** The most quarantine records kept at once; past it a trip still stops the agent, unrecorded. */
export const MAX_QUARANTINE_RECORDS = 10_000;

/** The key of one agent's windowed count for one tripwire. The hash tag keeps an agent's keys in one slot. */
export const tripwireCountKey = (agent: string, name: string): string => `trip:{${agent}}:${name}`;

const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A stored record, or undefined when it is not one of ours (never trusted further than its shape). */
export function parseQuarantine(raw: string | undefined): QuarantineRecord | undefined {
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (!str(r.agent) || !str(r.tripwire) || !str(r.reason) || (r.scope !== 'agent' && r.scope !== 'intent') || !str(r.by)) return undefined;
  if (!num(r.atMs) || !num(r.trips) || !str(r.stopKey) || !num(r.stopAtMs) || !num(r.previousStopMs) || !num(r.expiresAtMs)) return undefined;
  return v as QuarantineRecord;
}

const encode = (r: QuarantineRecord): string => JSON.stringify(r);

/** What a trip adds to an agent's record. */
export interface TripEntry extends TripFacts {
  /** The stop's time: `atMs` plus the issuers' clock skew, as `revokeAgent` stops. */
  readonly stopAtMs: number;
  readonly ttlMs: number;
}

/**
 * Stops the agent (or the intent) and records the quarantine. Two store operations, each on one
 * key: the stop first, so that every guard refuses the agent even if the record cannot be written.
 * A record already active for the agent is updated, never replaced, so that lifting it removes
 * the latest tripwire stop and restores the stop it found first.
 */
export async function tripQuarantine(store: TripwireStore, entry: TripEntry): Promise<{ record: QuarantineRecord | undefined; stopAtMs: number }> {
  const t = store.tripwires;
  const stopKey = entry.scope === 'intent' && entry.intent !== undefined ? revocationKey.intent(entry.intent) : revocationKey.agent(entry.agent);
  const stopAtMs = entry.stopAtMs;
  const before = await t.stop(stopKey, stopAtMs, entry.ttlMs);
  // A later stop already held by the key is someone else's: the record says so, and a lift keeps it.
  const expiresAtMs = entry.atMs + entry.ttlMs;
  for (let attempt = 0; attempt < 8; attempt++) {
    const raw = await t.record(entry.agent);
    const old = parseQuarantine(raw);
    let next: QuarantineRecord;
    if (old === undefined || old.lifted !== undefined || old.expiresAtMs <= entry.atMs || old.stopKey !== stopKey) {
      next = {
        agent: entry.agent,
        tripwire: entry.tripwire,
        reason: entry.reason,
        scope: entry.scope,
        intent: entry.intent,
        tool: entry.tool,
        by: entry.by,
        atMs: entry.atMs,
        trips: 1,
        stopKey,
        stopAtMs,
        previousStopMs: before,
        expiresAtMs,
      };
    } else {
      // A stop set between the two trips by someone else (later than the record's) is theirs to keep;
      // otherwise the earliest stop found before any trip is the one to restore.
      const previousStopMs = before > old.stopAtMs ? before : Math.min(old.previousStopMs, before);
      next = { ...old, trips: old.trips + 1, stopAtMs: Math.max(old.stopAtMs, stopAtMs), previousStopMs, expiresAtMs: Math.max(old.expiresAtMs, expiresAtMs) };
    }
    const written = await t.putRecord(entry.agent, raw, encode(next), next.expiresAtMs, MAX_QUARANTINE_RECORDS, entry.atMs, entry.ttlMs);
    if (written === 'written') return { record: next, stopAtMs };
    if (written === 'full') return { record: undefined, stopAtMs };
  }
  return { record: undefined, stopAtMs };
}

/** The quarantines a store holds, unexpired, newest first; lifted ones only with `includeLifted`. */
export async function listQuarantines(store: TripwireStore, nowMs: number, options: { includeLifted?: boolean } = {}): Promise<QuarantineRecord[]> {
  const out: QuarantineRecord[] = [];
  for (const raw of await store.tripwires.records()) {
    const r = parseQuarantine(raw);
    if (r === undefined || r.expiresAtMs <= nowMs) continue;
    if (r.lifted !== undefined && options.includeLifted !== true) continue;
    out.push(r);
  }
  return out.sort((a, b) => b.atMs - a.atMs);
}

/** Who lifts a quarantine, and why. Both are required: a quarantine is lifted by a person, on the record. */
export interface QuarantineLift {
  readonly by: string;
  readonly reason: string;
  readonly atMs: number;
}

/**
 * Lifts an agent's quarantine: the stop its tripwire wrote is removed (the revocation key is set
 * back to the stop it held before the first trip, or deleted when it held none), unless the key
 * now holds a later stop that is not the tripwire's, which stays. The record is kept, marked
 * lifted with who, why and when, until it expires. Answers the lifted record, or undefined when
 * the agent has no active quarantine.
 */
export async function liftQuarantine(store: TripwireStore, agent: string, lift: QuarantineLift): Promise<QuarantineRecord | undefined> {
  if (typeof lift.by !== 'string' || lift.by.trim() === '' || lift.by.length > 256) throw new TypeError('lift.by must name the person lifting the quarantine (1 to 256 characters)');
  if (typeof lift.reason !== 'string' || lift.reason.trim() === '' || lift.reason.length > 500) throw new TypeError('lift.reason must say why the quarantine is lifted (1 to 500 characters)');
  const t = store.tripwires;
  let restored = false;
  for (let attempt = 0; attempt < 8; attempt++) {
    const raw = await t.record(agent);
    const r = parseQuarantine(raw);
    if (r === undefined || r.lifted !== undefined || r.expiresAtMs <= lift.atMs) return undefined;
    // The stop first: if the record cannot be marked afterwards, a retry finds the stop already
    // restored and still marks the record.
    const answer = await t.restore(r.stopKey, r.stopAtMs, r.previousStopMs);
    restored ||= answer === 'lifted';
    const stop = restored ? 'lifted' : answer;
    const next: QuarantineRecord = { ...r, lifted: { by: lift.by, reason: lift.reason, atMs: lift.atMs, stop } };
    const written = await t.putRecord(agent, raw, encode(next), r.expiresAtMs, MAX_QUARANTINE_RECORDS, lift.atMs, Math.max(1000, r.expiresAtMs - lift.atMs));
    if (written === 'written') return next;
  }
  throw new Error('the quarantine record kept changing while it was being lifted; try again');
}
