/**
 * The embedded store: one process, no I/O, synchronous answers. Entries expire with the tokens
 * they serve, and the store is bounded: when full it refuses new entries (the guard then denies
 * with `store_unavailable`) rather than evicting one, because evicting a spent marker would let a
 * replay through and evicting a counter would reset a budget. Revocations alone are written
 * past the bound: they are operators' stops, never made by calls.
 *
 * Every guarded call leaves an entry behind for about a minute (its credential's registration,
 * kept past the credential's expiry so that a late use reads as a replay), so at a sustained
 * rate the store holds rate × lifetime entries. Two things keep that cheap:
 *
 * - Expiry is by time bucket, never by scanning entries. Time is cut into one-second ticks and
 *   every entry belongs to the bucket of the tick it expires at (rounded up, so nothing expires
 *   early). When a tick passes, its whole bucket is dropped in one step; a call never sweeps.
 * - Credential ids and proof-of-possession markers made by Tessera are 128-bit random ids in
 *   base64url (22 characters). Those are packed into 17 bytes (16 of id, one of kind and state)
 *   in open-addressing tables of typed arrays, one table per bucket, instead of a string and a
 *   Map entry each. Any other key (counters, revocations, approval markers, ids of another
 *   shape) is kept exactly as given, in Maps.
 *
 * A packed bucket covers up to 1/16 of its entries' lifetime (a power of two of ticks), so an
 * entry is kept at least as long as asked and at most ttl/16 + 1 s longer, and a lookup visits
 * at most a few dozen small tables.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { StoreFullError } from '../errors.js';
import { clockOption } from '../util/option-schemas.js';
import { parseOptions } from '../util/options.js';
import { type Clock, systemClock } from '../util/time.js';
import type {
  AdditionResult,
  CallReservation,
  CounterAddition,
  CredentialState,
  ReservationResult,
  TesseraStore,
} from './types.js';

export interface MemoryStoreOptions {
  /**
   * Most entries held at once (counters, markers, credentials); default 4,000,000, which holds
   * about 60,000 guarded calls per second with the default 30 s credential lifetime. Revocations
   * are written even past it.
   */
  maxEntries?: number;
  /**
   * How often expired buckets are dropped while the store is idle, in ms; default 30,000. Every
   * store operation drops them too. The timer never keeps a process alive.
   */
  sweepIntervalMs?: number;
  clock?: Clock;
}

// The error class lives with every other error class; re-exported so that existing imports work.
export { StoreFullError };

/** Every answer is synchronous: the guard's call path never waits on this store. */
export interface MemoryStore extends TesseraStore {
  /** Entries currently held, expired ones included until their bucket is dropped. */
  readonly size: number;
  reserve(reservation: CallReservation): ReservationResult;
  peek(reservation: CallReservation): ReservationResult;
  revoke(key: string, atMs: number, ttlMs: number): void;
  consumeOnce(key: string, ttlMs: number): boolean;
  consumeCredential(id: string): CredentialState;
  revokeCredential(id: string, ttlMs: number): void;
  addWithin(additions: readonly CounterAddition[]): AdditionResult;
  close(): void;
}

const TICK_MS = 1000;
const DEFAULT_MAX_ENTRIES = 4_000_000;

// Packed tags: 0 is an empty slot. Bits 0-1 hold a credential's state (a marker is always 1),
// bit 2 the kind, bits 3-7 five bits of the hash so that most mismatches are settled without
// reading the id.
const LIVE = 1;
const SPENT = 2;
const REVOKED = 3;
const KIND_CREDENTIAL = 0;
const KIND_POP = 1;
const POP_PREFIX = 'pop:';
const MIN_SLOTS = 64;
const MAX_LOAD = 0.75;
const TWO_32 = 4294967296;

const B64URL = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64URL['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.charCodeAt(i)] = i;

/** One bucket of packed entries: an open-addressing table, linear probing. */
interface Table {
  readonly slots: number;
  /** Four 32-bit words of id per slot. */
  readonly ids: Int32Array;
  readonly tags: Uint8Array;
}

/** One bucket of packed entries: an open-addressing table (linear probing). */
interface Generation {
  /** The tick at which every entry in it has expired. */
  readonly end: number;
  /** Entries held, in `table` and not yet moved out of `old`. */
  count: number;
  table: Table;
  /**
   * While a table grows, entries move from the old one a few per write (to any bucket), so that
   * no single write pays for moving a whole bucket. Lookups read `table` first: a moved entry is
   * found there.
   */
  old: Table | undefined;
  moved: number;
}

/** An entry kept under its exact key: a count, a revocation time, or a state. */
interface Exact {
  value: number;
  /** The tick at which it has expired. */
  end: number;
}

const requireTtl = (ttlMs: number): number => {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0) throw new RangeError('ttlMs must be a finite, non-negative number of ms');
  return ttlMs;
};

const optionsSchema = z.strictObject({
  maxEntries: z.number().int().positive().optional(),
  sweepIntervalMs: z.number().min(10).max(2_147_483_647).optional(),
  clock: clockOption.optional(),
});

export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  parseOptions(optionsSchema, options, 'createMemoryStore options');
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const sweepIntervalMs = options.sweepIntervalMs ?? 30_000;
  const clock = options.clock ?? systemClock;

  const base = clock();
  // Ticks are counted from the store's creation; `current` is the last tick that has fully begun.
  let current = Math.floor((clock() - base) / TICK_MS);
  let nextTickAt = base + (current + 1) * TICK_MS;
  /** The tick an entry written now and kept `ttlMs` expires at: never before `now + ttlMs`, never this tick. */
  const endTick = (now: number, ttlMs: number): number => Math.max(Math.ceil((now + ttlMs - base) / TICK_MS), current + 1);
  /**
   * The bucket a packed entry goes to: its end tick rounded up to a power of two of ticks no
   * more than 1/16 of its lifetime, so that entries of similar lifetimes share a few buckets.
   */
  const packedEnd = (now: number, ttlMs: number): number => {
    const ticks = ttlMs / TICK_MS;
    let width = 1;
    while (width * 32 <= ticks) width *= 2;
    return Math.ceil(endTick(now, ttlMs) / width) * width;
  };

  // A per-store secret seed, so that ids chosen by a caller cannot be aimed at one probe chain.
  const seed = randomBytes(4).readInt32LE(0);

  // ---- packed entries ----------------------------------------------------------------------
  /**
   * Each kind has its own buckets, so that a lookup of one kind never visits the other's (proof
   * markers outlive credentials: their buckets would come first). Newest (latest end) first: a
   * re-registered id is found in its latest bucket.
   */
  const spaces: readonly { readonly generations: Generation[]; readonly at: Map<number, Generation> }[] = [
    { generations: [], at: new Map() },
    { generations: [], at: new Map() },
  ];
  let packed = 0;
  // The id being looked up, unpacked once per operation.
  let w0 = 0;
  let w1 = 0;
  let w2 = 0;
  let w3 = 0;

  /**
   * Unpacks `key` from `from` on when it is exactly a canonical base64url encoding of 128 bits.
   * Only the canonical encoding is accepted (the last character's unused bits are zero), so two
   * different strings never pack to the same id.
   */
  const unpack = (key: string, from: number): boolean => {
    if (key.length !== from + 22) return false;
    let v = 0;
    for (let w = 0; w < 4; w++) {
      v = 0;
      for (let j = from + w * 5, stop = j + 5; j < stop; j++) {
        const c = key.charCodeAt(j);
        const d = c < 128 ? B64URL[c]! : -1;
        if (d < 0) return false;
        v = (v << 6) | d;
      }
      if (w === 0) w0 = v;
      else if (w === 1) w1 = v;
      else if (w === 2) w2 = v;
      else w3 = v;
    }
    const c20 = key.charCodeAt(from + 20);
    const c21 = key.charCodeAt(from + 21);
    const d20 = c20 < 128 ? B64URL[c20]! : -1;
    const d21 = c21 < 128 ? B64URL[c21]! : -1;
    if (d20 < 0 || d21 < 0 || (d21 & 15) !== 0) return false;
    // 20 characters fill 30 bits of each word; the last 8 bits go to the words' top two bits.
    const rest = (d20 << 2) | (d21 >> 4);
    w0 |= (rest & 3) << 30;
    w1 |= ((rest >> 2) & 3) << 30;
    w2 |= ((rest >> 4) & 3) << 30;
    w3 |= ((rest >> 6) & 3) << 30;
    return true;
  };

  const fmix = (h: number): number => {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  };
  const hashOf = (kind: number, a: number, b: number, c: number, d: number): number =>
    fmix(fmix(fmix(fmix(seed ^ kind ^ a) ^ b) ^ c) ^ d) >>> 0;
  const tagOf = (kind: number, h: number, state: number): number => ((h & 31) << 3) | (kind << 2) | state;

  /** The slot holding the unpacked id in `t`, or -(free slot + 1) where it would go. */
  const probe = (t: Table, kind: number, h: number): number => {
    const { slots, tags, ids } = t;
    const want = tagOf(kind, h, 0);
    // The high bits of the hash pick the slot (multiply-shift), the low bits make the tag.
    let i = Math.floor((h * slots) / TWO_32);
    for (;;) {
      const tag = tags[i]!;
      if (tag === 0) return -(i + 1);
      if ((tag & 0xfc) === want) {
        const at = i << 2;
        if (ids[at] === w0 && ids[at + 1] === w1 && ids[at + 2] === w2 && ids[at + 3] === w3) return i;
      }
      if (++i === slots) i = 0;
    }
  };

  const newTable = (slots: number): Table => ({ slots, ids: new Int32Array(slots * 4), tags: new Uint8Array(slots) });

  const generationFor = (kind: number, end: number): Generation => {
    const { generations, at } = spaces[kind]!;
    let g = at.get(end);
    if (g === undefined) {
      g = { end, count: 0, table: newTable(MIN_SLOTS), old: undefined, moved: 0 };
      at.set(end, g);
      let i = generations.length;
      while (i > 0 && generations[i - 1]!.end < end) i--;
      generations.splice(i, 0, g);
    }
    return g;
  };

  /** Buckets whose old table still holds entries, oldest growth first. */
  const growing: Generation[] = [];
  /** Moves up to `n` slots of a growing bucket's old table into its new one. */
  const moveSome = (g: Generation, n: number): void => {
    const from = g.old!;
    const to = g.table;
    const stop = Math.min(from.slots, g.moved + n);
    for (let s = g.moved; s < stop; s++) {
      const tag = from.tags[s]!;
      if (tag === 0) continue;
      const at = s << 2;
      const a = from.ids[at]!;
      const b = from.ids[at + 1]!;
      const c = from.ids[at + 2]!;
      const d = from.ids[at + 3]!;
      let i = Math.floor((hashOf((tag >> 2) & 1, a, b, c, d) * to.slots) / TWO_32);
      while (to.tags[i] !== 0) if (++i === to.slots) i = 0;
      to.tags[i] = tag;
      const dest = i << 2;
      to.ids[dest] = a;
      to.ids[dest + 1] = b;
      to.ids[dest + 2] = c;
      to.ids[dest + 3] = d;
    }
    g.moved = stop;
    if (stop === from.slots) {
      g.old = undefined;
      growing.splice(growing.indexOf(g), 1);
    }
  };

  // Where the last `find` or `put` left the id: its table's tags and its slot.
  let foundTags: Uint8Array = new Uint8Array(0);
  let foundAt = 0;
  /** Looks the unpacked id up in one bucket. */
  const findIn = (g: Generation, kind: number, h: number): number => {
    const r = probe(g.table, kind, h);
    if (r >= 0) {
      foundTags = g.table.tags;
      foundAt = r;
      return r;
    }
    if (g.old !== undefined) {
      const o = probe(g.old, kind, h);
      if (o >= 0) {
        foundTags = g.old.tags;
        foundAt = o;
        return o;
      }
    }
    return r;
  };

  /** Writes the unpacked id into bucket `end` with `state`, or sets the state of the copy there. */
  const put = (end: number, kind: number, h: number, state: number): void => {
    const g = generationFor(kind, end);
    let r = findIn(g, kind, h);
    if (r >= 0) {
      foundTags[foundAt] = tagOf(kind, h, state);
      return;
    }
    if (g.count + 1 > g.table.slots * MAX_LOAD) {
      // Only reached when many buckets grow at once; the table must never fill up.
      if (g.old !== undefined) moveSome(g, Infinity);
      g.old = g.table;
      g.moved = 0;
      // Growing by half keeps every table between half and three quarters full.
      g.table = newTable(Math.ceil(g.table.slots * 1.5));
      growing.push(g);
      r = probe(g.table, kind, h);
    }
    const t = g.table;
    const i = -r - 1;
    t.tags[i] = tagOf(kind, h, state);
    const at = i << 2;
    t.ids[at] = w0;
    t.ids[at + 1] = w1;
    t.ids[at + 2] = w2;
    t.ids[at + 3] = w3;
    g.count++;
    packed++;
    // A write moves 16 old slots: a growing table is emptied within slots/16 writes, long before
    // its bucket's new table (half full when it starts) reaches three quarters.
    if (growing.length > 0) moveSome(growing[0]!, 16);
  };

  /**
   * Finds the latest copy of the unpacked id in buckets ending at or after `minEnd`. An id is
   * only ever copied into a later bucket, so the latest copy is the one that counts.
   */
  const find = (kind: number, h: number, minEnd = -Infinity): boolean => {
    const { generations } = spaces[kind]!;
    for (let k = 0; k < generations.length; k++) {
      const g = generations[k]!;
      if (g.end < minEnd) break;
      if (g.count > 0 && findIn(g, kind, h) >= 0) return true;
    }
    return false;
  };

  // ---- exact entries -----------------------------------------------------------------------
  const records = new Map<string, Exact>(); // counters and revocations
  const markers = new Map<string, Exact>();
  const credentials = new Map<string, Exact>();
  /** Exact keys by the tick they expire at: [map, key, map, key, ...]. */
  const buckets = new Map<number, (Map<string, Exact> | string)[]>();
  const due = (map: Map<string, Exact>, key: string, end: number): void => {
    const b = buckets.get(end);
    if (b === undefined) buckets.set(end, [map, key]);
    else b.push(map, key);
  };
  const setExact = (map: Map<string, Exact>, key: string, value: number, end: number): void => {
    map.set(key, { value, end });
    due(map, key, end);
  };
  const exactSize = (): number => records.size + markers.size + credentials.size;
  const dropBucket = (b: (Map<string, Exact> | string)[], upTo: number): void => {
    for (let i = 0; i < b.length; i += 2) {
      const map = b[i] as Map<string, Exact>;
      const key = b[i + 1] as string;
      const e = map.get(key);
      // An entry whose life was extended is due again in a later bucket.
      if (e !== undefined && e.end <= upTo) map.delete(key);
    }
  };

  // ---- time ----------------------------------------------------------------------------------
  /** Drops every bucket whose tick has passed. One comparison while the tick has not changed. */
  const advance = (): number => {
    const now = clock();
    if (now < nextTickAt) return now;
    const tick = Math.floor((now - base) / TICK_MS);
    if (tick <= current) return now; // the clock went back; nothing new has expired
    for (const { generations, at } of spaces) {
      while (generations.length > 0 && generations[generations.length - 1]!.end <= tick) {
        const g = generations.pop()!;
        at.delete(g.end);
        packed -= g.count;
        if (g.old !== undefined) growing.splice(growing.indexOf(g), 1);
      }
    }
    if (buckets.size > 0) {
      if (tick - current <= buckets.size) {
        for (let t = current + 1; t <= tick; t++) {
          const b = buckets.get(t);
          if (b === undefined) continue;
          buckets.delete(t);
          dropBucket(b, tick);
        }
      } else {
        // A long jump (a suspended process, a test clock): visit the buckets, not the ticks.
        for (const [t, b] of buckets) {
          if (t > tick) continue;
          buckets.delete(t);
          dropBucket(b, tick);
        }
      }
    }
    current = tick;
    nextTickAt = base + (tick + 1) * TICK_MS;
    return now;
  };

  const timer = setInterval(advance, sweepIntervalMs);
  timer.unref();

  const size = (): number => packed + exactSize();
  const ensureRoom = (n: number): void => {
    if (size() + n > maxEntries) throw new StoreFullError(maxEntries);
  };

  // ---- the operations --------------------------------------------------------------------------
  const markerPresent = (key: string): boolean => {
    if (key.startsWith(POP_PREFIX) && unpack(key, POP_PREFIX.length)) return find(KIND_POP, hashOf(KIND_POP, w0, w1, w2, w3));
    return markers.has(key);
  };
  const setMarker = (key: string, now: number, ttlMs: number): void => {
    requireTtl(ttlMs);
    if (key.startsWith(POP_PREFIX) && unpack(key, POP_PREFIX.length)) {
      put(packedEnd(now, ttlMs), KIND_POP, hashOf(KIND_POP, w0, w1, w2, w3), LIVE);
      return;
    }
    setExact(markers, key, 1, endTick(now, ttlMs));
  };

  /** The verdict of a reservation, without writing anything. */
  const check = (r: CallReservation): ReservationResult => {
    // Malformed input is refused before anything is written, so a reservation stays all-or-nothing.
    for (const c of r.counters) requireTtl(c.ttlMs);
    for (const m of r.once) requireTtl(m.ttlMs);
    for (const c of r.credentials) requireTtl(c.ttlMs);
    for (const c of r.revocations) {
      const e = records.get(c.key);
      if (e !== undefined && e.value >= c.issuedAtMs) return { ok: false, reason: 'revoked', key: c.key };
    }
    for (const m of r.once) {
      if (markerPresent(m.key)) return { ok: false, reason: 'replay', key: m.key };
    }
    for (const c of r.counters) {
      if ((records.get(c.key)?.value ?? 0) + 1 > c.limit) return { ok: false, reason: 'limit', key: c.key, limit: c.limit };
    }
    // Every write may create an entry: a reservation that might not fit is refused whole.
    ensureRoom(r.counters.length + r.once.length + r.credentials.length);
    return OK;
  };

  /** Registers a credential as live for at least `ttlMs`; a registration never shortens a life. */
  const registerCredential = (id: string, now: number, ttlMs: number): void => {
    if (unpack(id, 0)) {
      const end = packedEnd(now, ttlMs);
      const h = hashOf(KIND_CREDENTIAL, w0, w1, w2, w3);
      if (find(KIND_CREDENTIAL, h, end + 1)) {
        foundTags[foundAt] = tagOf(KIND_CREDENTIAL, h, LIVE);
        return;
      }
      put(end, KIND_CREDENTIAL, h, LIVE);
      return;
    }
    const end = endTick(now, ttlMs);
    const e = credentials.get(id);
    if (e === undefined) {
      setExact(credentials, id, LIVE, end);
      return;
    }
    e.value = LIVE;
    if (end > e.end) {
      e.end = end;
      due(credentials, id, end);
    }
  };

  return {
    get size() {
      advance();
      return size();
    },

    peek(r: CallReservation): ReservationResult {
      advance();
      return check(r);
    },

    reserve(r: CallReservation): ReservationResult {
      const now = advance();
      const verdict = check(r);
      if (!verdict.ok) return verdict;
      for (const c of r.counters) {
        const e = records.get(c.key);
        if (e === undefined) setExact(records, c.key, 1, endTick(now, c.ttlMs));
        else e.value += 1;
      }
      for (const m of r.once) setMarker(m.key, now, m.ttlMs);
      for (const c of r.credentials) registerCredential(c.id, now, c.ttlMs);
      return OK;
    },

    revoke(key: string, atMs: number, ttlMs: number): void {
      const now = advance();
      if (typeof atMs !== 'number' || Number.isNaN(atMs)) throw new RangeError('atMs must be a number of ms since the epoch');
      const end = endTick(now, requireTtl(ttlMs));
      const e = records.get(key);
      if (e === undefined) {
        // Not bounded by maxEntries: a revocation is an operator's stop, and a store filled by
        // calls must not be able to refuse it.
        setExact(records, key, atMs, end);
        return;
      }
      // A revocation only widens: the later time and the longer life win.
      e.value = Math.max(e.value, atMs);
      if (end > e.end) {
        e.end = end;
        due(records, key, end);
      }
    },

    consumeOnce(key: string, ttlMs: number): boolean {
      const now = advance();
      if (markerPresent(key)) return false;
      ensureRoom(1);
      setMarker(key, now, ttlMs);
      return true;
    },

    consumeCredential(id: string): CredentialState {
      advance();
      let state: number;
      if (unpack(id, 0)) {
        const h = hashOf(KIND_CREDENTIAL, w0, w1, w2, w3);
        if (!find(KIND_CREDENTIAL, h)) return 'unknown';
        state = foundTags[foundAt]! & 3;
        if (state === LIVE) foundTags[foundAt] = tagOf(KIND_CREDENTIAL, h, SPENT);
      } else {
        const e = credentials.get(id);
        if (e === undefined) return 'unknown';
        state = e.value;
        if (state === LIVE) e.value = SPENT;
      }
      return state === LIVE ? 'ok' : state === SPENT ? 'spent' : 'revoked';
    },

    revokeCredential(id: string, ttlMs: number): void {
      const now = advance();
      if (unpack(id, 0)) {
        const h = hashOf(KIND_CREDENTIAL, w0, w1, w2, w3);
        if (find(KIND_CREDENTIAL, h)) {
          // A spent credential stays spent: both refuse a later use, and "spent" says more.
          if ((foundTags[foundAt]! & 3) === LIVE) foundTags[foundAt] = tagOf(KIND_CREDENTIAL, h, REVOKED);
          return;
        }
        const end = packedEnd(now, requireTtl(ttlMs));
        ensureRoom(1);
        // ensureRoom runs no lookup, so the id unpacked above is still the one in w0..w3.
        put(end, KIND_CREDENTIAL, h, REVOKED);
        return;
      }
      const e = credentials.get(id);
      if (e !== undefined) {
        if (e.value === LIVE) e.value = REVOKED;
        return;
      }
      ensureRoom(1);
      setExact(credentials, id, REVOKED, endTick(now, requireTtl(ttlMs)));
    },

    addWithin(additions: readonly CounterAddition[]): AdditionResult {
      const now = advance();
      for (const a of additions) {
        requireTtl(a.ttlMs);
        requireAmount(a.amount);
        const total = records.get(a.key)?.value ?? 0;
        if (total + a.amount > a.limit) return { ok: false, key: a.key, limit: a.limit, total };
      }
      ensureRoom(additions.length);
      for (const a of additions) {
        const end = endTick(now, a.ttlMs);
        const e = records.get(a.key);
        if (e === undefined) {
          setExact(records, a.key, a.amount, end);
          continue;
        }
        e.value += a.amount;
        if (end > e.end) {
          e.end = end;
          due(records, a.key, end);
        }
      }
      return OK;
    },

    close(): void {
      clearInterval(timer);
    },
  };
}

const OK: ReservationResult & AdditionResult = Object.freeze({ ok: true });

function requireAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError('a counter addition must be a non-negative safe integer');
}
