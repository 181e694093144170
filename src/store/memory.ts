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
  // Counters and revocations are few and carry a value; markers and credentials are many, one or
  // two per call, so they are packed into small integers: whole seconds since the store started
  // (rounded up, so nothing expires early), times 4 plus a credential's state. Small integers are
  // stored unboxed, so a million entries allocate nothing per entry beyond the key.
  const records = new Map<string, Entry>();
  const markers = new Map<string, number>();
  const credentials = new Map<string, number>();
  const size = (): number => records.size + markers.size + credentials.size;
  const base = clock();
  const tick = (ms: number): number => Math.ceil((ms - base) / 1000);
  const expired = (t: number, now: number): boolean => base + t * 1000 <= now;

  const live = (key: string, now: number): Entry | undefined => {
    const e = records.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      records.delete(key);
      return undefined;
    }
    return e;
  };
  const marked = (key: string, now: number): boolean => {
    const t = markers.get(key);
    if (t === undefined) return false;
    if (expired(t, now)) {
      markers.delete(key);
      return false;
    }
    return true;
  };
  const credentialState = (id: string, now: number): number | undefined => {
    const packed = credentials.get(id);
    if (packed === undefined) return undefined;
    if (expired(packed >> 2, now)) {
      credentials.delete(id);
      return undefined;
    }
    return packed & 3;
  };
  const setCredentialState = (id: string, state: number): void => {
    credentials.set(id, (credentials.get(id)! & ~3) | state);
  };
  const addCredential = (id: string, state: number, expiresAt: number): void => {
    credentials.set(id, (tick(expiresAt) << 2) | state);
  };

  const sweep = (): void => {
    const now = clock();
    for (const [k, e] of records) if (e.expiresAt <= now) records.delete(k);
    for (const [k, t] of markers) if (expired(t, now)) markers.delete(k);
    for (const [k, packed] of credentials) if (expired(packed >> 2, now)) credentials.delete(k);
  };
  const timer = setInterval(sweep, options.sweepIntervalMs ?? 30_000);
  timer.unref();

  const ensureRoom = (n: number): void => {
    if (size() + n <= maxEntries) return;
    sweep();
    if (size() + n > maxEntries) throw new StoreFullError();
  };

  return {
    get size() {
      return size();
    },

    reserve(r: CallReservation): ReservationResult {
      const now = clock();
      for (const check of r.revocations) {
        const e = live(check.key, now);
        if (e !== undefined && e.value >= check.issuedAtMs) return { ok: false, reason: 'revoked', key: check.key };
      }
      for (const m of r.once) {
        if (marked(m.key, now)) return { ok: false, reason: 'replay', key: m.key };
      }
      for (const c of r.counters) {
        const e = live(c.key, now);
        if ((e?.value ?? 0) + 1 > c.limit) return { ok: false, reason: 'limit', key: c.key, limit: c.limit };
      }
      ensureRoom(r.counters.length + r.once.length + r.credentials.length);
      for (const c of r.counters) {
        const e = live(c.key, now);
        if (e === undefined) records.set(c.key, { value: 1, expiresAt: now + c.ttlMs });
        else e.value += 1;
      }
      for (const m of r.once) markers.set(m.key, tick(now + m.ttlMs));
      for (const c of r.credentials) addCredential(c.id, LIVE, now + c.ttlMs);
      return OK;
    },

    revoke(key: string, at: number, ttlMs: number): void {
      const now = clock();
      const e = live(key, now);
      if (e === undefined) {
        ensureRoom(1);
        records.set(key, { value: at, expiresAt: now + ttlMs });
        return;
      }
      e.value = Math.max(e.value, at);
      e.expiresAt = Math.max(e.expiresAt, now + ttlMs);
    },

    consumeOnce(key: string, ttlMs: number): boolean {
      const now = clock();
      if (marked(key, now)) return false;
      ensureRoom(1);
      markers.set(key, tick(now + ttlMs));
      return true;
    },

    consumeCredential(id: string): CredentialState {
      const now = clock();
      const state = credentialState(id, now);
      if (state === undefined) return 'unknown';
      if (state === LIVE) {
        setCredentialState(id, SPENT);
        return 'ok';
      }
      return state === SPENT ? 'spent' : 'revoked';
    },

    revokeCredential(id: string, ttlMs: number): void {
      const now = clock();
      const state = credentialState(id, now);
      if (state !== undefined) {
        // A spent credential stays spent: both refuse a later use, and "spent" says more.
        if (state === LIVE) setCredentialState(id, REVOKED);
        return;
      }
      ensureRoom(1);
      addCredential(id, REVOKED, now + ttlMs);
    },

    close(): void {
      clearInterval(timer);
    },
  };
}

const OK: ReservationResult = Object.freeze({ ok: true });
