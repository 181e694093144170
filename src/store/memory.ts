/**
 * The embedded store: one process, no I/O, synchronous answers. Entries expire with the tokens
 * they serve, and the store is bounded: when full it refuses new entries (the guard then denies
 * with `store_unavailable`) rather than evicting one, because evicting a spent marker would let a
 * replay through and evicting a counter would reset a budget.
 */
import { type Clock, systemClock } from '../util/time.js';
import type {
  CallReservation,
  CredentialState,
  ReservationResult,
  TesseraStore,
} from './types.js';

export interface MemoryStoreOptions {
  /** Most entries held at once (counters, markers, credentials, revocations); default 1,000,000. */
  maxEntries?: number;
  /** How often expired entries are swept, in ms; default 30,000. The timer never keeps a process alive. */
  sweepIntervalMs?: number;
  clock?: Clock;
}

interface Entry {
  value: number;
  expiresAt: number;
}

const LIVE = 1;
const SPENT = 2;
const REVOKED = 3;

export class StoreFullError extends Error {
  constructor() {
    super('memory store is full');
    this.name = 'StoreFullError';
  }
}

export interface MemoryStore extends TesseraStore {
  /** Entries currently held (expired ones may linger until the next sweep). */
  readonly size: number;
  close(): void;
}

export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const maxEntries = options.maxEntries ?? 1_000_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  const clock = options.clock ?? systemClock;
  const entries = new Map<string, Entry>();

  const live = (key: string, now: number): Entry | undefined => {
    const e = entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      entries.delete(key);
      return undefined;
    }
    return e;
  };

  const put = (key: string, value: number, expiresAt: number): void => {
    const existing = entries.get(key);
    if (existing !== undefined) {
      existing.value = value;
      existing.expiresAt = Math.max(existing.expiresAt, expiresAt);
      return;
    }
    entries.set(key, { value, expiresAt });
  };

  const sweep = (): void => {
    const now = clock();
    for (const [k, e] of entries) if (e.expiresAt <= now) entries.delete(k);
  };
  const timer = setInterval(sweep, options.sweepIntervalMs ?? 30_000);
  timer.unref();

  const ensureRoom = (n: number): void => {
    if (entries.size + n <= maxEntries) return;
    sweep();
    if (entries.size + n > maxEntries) throw new StoreFullError();
  };

  return {
    get size() {
      return entries.size;
    },

    reserve(r: CallReservation): ReservationResult {
      const now = clock();
      for (const check of r.revocations) {
        const e = live(check.key, now);
        if (e !== undefined && e.value >= check.issuedAt) return { ok: false, reason: 'revoked', key: check.key };
      }
      for (const m of r.once) {
        if (live(m.key, now) !== undefined) return { ok: false, reason: 'replay', key: m.key };
      }
      for (const c of r.counters) {
        const e = live(c.key, now);
        if ((e?.value ?? 0) + 1 > c.limit) return { ok: false, reason: 'limit', key: c.key, limit: c.limit };
      }
      ensureRoom(r.counters.length + r.once.length + r.credentials.length);
      for (const c of r.counters) {
        const e = live(c.key, now);
        if (e === undefined) entries.set(c.key, { value: 1, expiresAt: now + c.ttlMs });
        else e.value += 1;
      }
      for (const m of r.once) entries.set(m.key, { value: 1, expiresAt: now + m.ttlMs });
      for (const c of r.credentials) entries.set(`cred:${c.id}`, { value: LIVE, expiresAt: now + c.ttlMs });
      return { ok: true };
    },

    revoke(key: string, at: number, ttlMs: number): void {
      const now = clock();
      const e = live(key, now);
      ensureRoom(e === undefined ? 1 : 0);
      put(key, Math.max(e?.value ?? 0, at), now + ttlMs);
    },

    consumeOnce(key: string, ttlMs: number): boolean {
      const now = clock();
      if (live(key, now) !== undefined) return false;
      ensureRoom(1);
      entries.set(key, { value: 1, expiresAt: now + ttlMs });
      return true;
    },

    consumeCredential(id: string): CredentialState {
      const e = live(`cred:${id}`, clock());
      if (e === undefined) return 'unknown';
      if (e.value === LIVE) {
        e.value = SPENT;
        return 'ok';
      }
      return e.value === SPENT ? 'spent' : 'revoked';
    },

    revokeCredential(id: string, ttlMs: number): void {
      const now = clock();
      const e = live(`cred:${id}`, now);
      if (e !== undefined) {
        // A spent credential stays spent: both refuse a later use, and "spent" says more.
        if (e.value === LIVE) e.value = REVOKED;
        return;
      }
      ensureRoom(1);
      entries.set(`cred:${id}`, { value: REVOKED, expiresAt: now + ttlMs });
    },

    close(): void {
      clearInterval(timer);
    },
  };
}
