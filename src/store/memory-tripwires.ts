/**
 * Tripwire state in the embedded store: one process, synchronous answers. Bounded: at most
 * `maxKeys` event counts (each at most its `limit` timestamps) and `MAX_QUARANTINE_RECORDS`
 * records; a count past the bound throws `StoreFullError`, which the tripwires treat as a store
 * failure. Everything expires: a count `windowMs` after its last event, a record at its own
 * expiry (dropped when the next write finds it expired).
 */
import { StoreFullError } from '../errors.js';
import type { TripwireState } from './tripwire-state.js';

/** The revocation entries the tripwires' stop and restore work on, as the memory store keeps them. */
export interface MemoryRevocations {
  /** The current time, after dropping whatever expired. */
  now(): number;
  get(key: string): number | undefined;
  revoke(key: string, atMs: number, ttlMs: number): void;
  /** Sets the time held by `key` without changing its expiry, or deletes it (undefined). */
  set(key: string, atMs: number | undefined): void;
}

const DEFAULT_MAX_KEYS = 100_000;

export function createMemoryTripwireState(revocations: MemoryRevocations, maxKeys = DEFAULT_MAX_KEYS): TripwireState {
  const counts = new Map<string, { events: number[]; expiresAt: number }>();
  const records = new Map<string, { raw: string; expiresAt: number }>();

  const pruneCounts = (now: number): void => {
    for (const [k, v] of counts) if (v.expiresAt <= now) counts.delete(k);
  };

  return {
    countEvent(key, limit, windowMs, nowMs) {
      const now = revocations.now();
      let c = counts.get(key);
      if (c === undefined || c.expiresAt <= now) {
        if (counts.size >= maxKeys) {
          pruneCounts(now);
          if (counts.size >= maxKeys) throw new StoreFullError(maxKeys);
        }
        c = { events: [], expiresAt: 0 };
        counts.set(key, c);
      }
      c.events.push(nowMs);
      if (c.events.length > limit) c.events.splice(0, c.events.length - limit);
      c.expiresAt = now + windowMs;
      let n = 0;
      for (const t of c.events) if (t > nowMs - windowMs) n++;
      return n;
    },

    stop(key, atMs, ttlMs) {
      revocations.now();
      const before = revocations.get(key) ?? 0;
      revocations.revoke(key, atMs, ttlMs);
      return before;
    },

    restore(key, stoppedAtMs, previousMs) {
      revocations.now();
      const cur = revocations.get(key);
      if (cur === undefined) return 'absent';
      if (cur !== stoppedAtMs) return 'kept';
      revocations.set(key, previousMs === 0 ? undefined : previousMs);
      return 'lifted';
    },

    record(agent) {
      return records.get(agent)?.raw;
    },

    putRecord(agent, expected, raw, expiresAtMs, maxRecords, nowMs) {
      const cur = records.get(agent);
      if (cur?.raw !== expected) return 'changed';
      if (cur === undefined) {
        for (const [k, v] of records) if (v.expiresAt <= nowMs) records.delete(k);
        if (records.size >= maxRecords) return 'full';
      }
      records.set(agent, { raw, expiresAt: expiresAtMs });
      return 'written';
    },

    records() {
      return [...records.values()].map((r) => r.raw);
    },
  };
}
