/**
 * The memory store beyond the shared contract: packed ids, expiry by time bucket, the bound and
 * what it refuses, peek, and behaviour at sustained load. The contract itself runs in
 * contract.test.ts with keys that are not packed; these tests use the ids the guard makes.
 */
import { describe, expect, test } from 'vitest';
import { createMemoryStore, StoreFullError } from '../../src/store/memory.js';
import type { CallReservation } from '../../src/store/types.js';
import { createManualClock } from '../../src/testing/clock.js';
import { randomId } from '../../src/util/canonical.js';

const reservation = (r: Partial<CallReservation>): CallReservation => ({ revocations: [], counters: [], once: [], credentials: [], ...r });
const register = (id: string, ttlMs = 60_000): CallReservation => reservation({ credentials: [{ id, ttlMs }] });

/** The same 128 bits with the last character's unused bits set: a different string, never the same id. */
const aliasOf = (id: string): string => {
  const last = id[21]!;
  const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return id.slice(0, 21) + digits[digits.indexOf(last) + 1]!;
};

describe('credentials with guard-made ids (packed)', () => {
  test('live, then spent; a revoked live credential reads revoked; a spent one stays spent', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const [a, b, c] = [randomId(), randomId(), randomId()];
    expect(store.reserve(reservation({ credentials: [{ id: a, ttlMs: 60_000 }, { id: b, ttlMs: 60_000 }, { id: c, ttlMs: 60_000 }] }))).toEqual({ ok: true });
    expect(store.consumeCredential(a)).toBe('ok');
    expect(store.consumeCredential(a)).toBe('spent');
    store.revokeCredential(a, 60_000);
    expect(store.consumeCredential(a)).toBe('spent');
    store.revokeCredential(b, 60_000);
    expect(store.consumeCredential(b)).toBe('revoked');
    expect(store.consumeCredential(c)).toBe('ok');
    expect(store.consumeCredential(randomId())).toBe('unknown');
    expect(store.size).toBe(3);
  });

  test('revoking an id never registered keeps it revoked', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const id = randomId();
    store.revokeCredential(id, 60_000);
    expect(store.consumeCredential(id)).toBe('revoked');
  });

  test('two spellings of the same 128 bits are two different credentials', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const id = randomId();
    const alias = aliasOf(id);
    expect(Buffer.from(alias, 'base64url').equals(Buffer.from(id, 'base64url'))).toBe(true);
    store.reserve(register(id));
    expect(store.consumeCredential(alias)).toBe('unknown');
    expect(store.consumeCredential(id)).toBe('ok');
    store.reserve(register(alias));
    expect(store.consumeCredential(alias)).toBe('ok');
    expect(store.consumeCredential(id)).toBe('spent');
  });

  test('ids of any other shape are kept exactly and behave the same', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const ids = ['short', `${randomId()}x`, 'é'.repeat(22), `${randomId().slice(0, 21)}!`];
    store.reserve(reservation({ credentials: ids.map((id) => ({ id, ttlMs: 60_000 })) }));
    expect(ids.map((id) => store.consumeCredential(id))).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(ids.map((id) => store.consumeCredential(id))).toEqual(['spent', 'spent', 'spent', 'spent']);
  });

  test('a registration never shortens a life: registered for 60 s then again for 1 s, it is still held at 50 s', () => {
    const clock = createManualClock();
    const store = createMemoryStore({ clock });
    const id = randomId();
    store.reserve(register(id, 60_000));
    store.reserve(register(id, 1_000));
    clock.advance(50_000);
    expect(store.consumeCredential(id)).toBe('ok');
  });

  test('a registration renewed later lives until the later expiry', () => {
    const clock = createManualClock();
    const store = createMemoryStore({ clock });
    const id = randomId();
    store.reserve(register(id, 60_000));
    clock.advance(50_000);
    store.reserve(register(id, 60_000));
    clock.advance(55_000);
    expect(store.consumeCredential(id)).toBe('ok');
    clock.advance(15_000);
    expect(store.consumeCredential(id)).toBe('unknown');
  });
});

describe('proof-of-possession markers with guard-made ids (packed)', () => {
  test('accepted once, then a replay; consumeOnce sees the same marker', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const key = `pop:${randomId()}`;
    expect(store.reserve(reservation({ once: [{ key, ttlMs: 121_000 }] }))).toEqual({ ok: true });
    expect(store.reserve(reservation({ once: [{ key, ttlMs: 121_000 }] }))).toEqual({ ok: false, reason: 'replay', key });
    expect(store.consumeOnce(key, 121_000)).toBe(false);
    const other = `pop:${randomId()}`;
    expect(store.consumeOnce(other, 121_000)).toBe(true);
    expect(store.reserve(reservation({ once: [{ key: other, ttlMs: 121_000 }] }))).toEqual({ ok: false, reason: 'replay', key: other });
  });

  test('a marker, a credential and an approval with the same id are three entries', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const id = randomId();
    expect(store.consumeOnce(`pop:${id}`, 60_000)).toBe(true);
    expect(store.consumeCredential(id)).toBe('unknown');
    expect(store.consumeOnce(`approval:${id}`, 60_000)).toBe(true);
    store.reserve(register(id));
    expect(store.consumeOnce(`pop:${id}`, 60_000)).toBe(false);
    expect(store.consumeCredential(id)).toBe('ok');
    expect(store.size).toBe(3);
  });

  test('the same marker twice in one reservation is written once', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const key = `pop:${randomId()}`;
    expect(store.reserve(reservation({ once: [{ key, ttlMs: 60_000 }, { key, ttlMs: 60_000 }] }))).toEqual({ ok: true });
    expect(store.size).toBe(1);
  });
});

describe('expiry by time bucket', () => {
  // A packed entry is kept at least its ttl, and at most ttl/16 + 1 s longer.
  test.each([
    ['a 60 s credential', 60_000, 60_000 + 3_750 + 1_000],
    ['a 5 min credential', 300_000, 300_000 + 18_750 + 1_000],
    ['a 1 s credential', 1_000, 2_000],
  ])('%s is held until its ttl has passed and gone within ttl/16 + 1 s after', (_name, ttlMs, goneBy) => {
    const clock = createManualClock();
    const store = createMemoryStore({ clock });
    clock.advance(437); // not on a tick boundary
    const held = randomId();
    const gone = randomId();
    store.reserve(reservation({ credentials: [{ id: held, ttlMs }, { id: gone, ttlMs }] }));
    clock.advance(ttlMs - 1);
    expect(store.consumeCredential(held)).toBe('ok');
    clock.advance(goneBy - ttlMs + 1);
    expect(store.consumeCredential(gone)).toBe('unknown');
    expect(store.size).toBe(0);
  });

  test('counters and revocations kept under their exact keys expire within a second of their ttl', () => {
    const clock = createManualClock();
    const store = createMemoryStore({ clock });
    clock.advance(250);
    const counter = { key: 'calls:cap-1:email.send', limit: 1, ttlMs: 10_000 };
    expect(store.reserve(reservation({ counters: [counter] }))).toEqual({ ok: true });
    store.revoke('intent:i-1', clock(), 10_000);
    clock.advance(9_999);
    expect(store.reserve(reservation({ counters: [counter] }))).toEqual({ ok: false, reason: 'limit', key: counter.key, limit: 1 });
    expect(store.peek(reservation({ revocations: [{ key: 'intent:i-1', issuedAtMs: clock.start }] }))).toEqual({ ok: false, reason: 'revoked', key: 'intent:i-1' });
    clock.advance(1_001);
    expect(store.size).toBe(0);
    expect(store.reserve(reservation({ counters: [counter] }))).toEqual({ ok: true });
  });

  test('a revocation extended by a longer one outlives the first bucket it was due in', () => {
    const clock = createManualClock();
    const store = createMemoryStore({ clock });
    store.revoke('agent:a', 5_000, 10_000);
    store.revoke('agent:a', 4_000, 60_000);
    clock.advance(30_000);
    expect(store.peek(reservation({ revocations: [{ key: 'agent:a', issuedAtMs: 5_000 }] }))).toEqual({ ok: false, reason: 'revoked', key: 'agent:a' });
    clock.advance(31_000);
    expect(store.peek(reservation({ revocations: [{ key: 'agent:a', issuedAtMs: 5_000 }] }))).toEqual({ ok: true });
  });

  test('a clock that goes back expires nothing early', () => {
    const clock = createManualClock();
    const store = createMemoryStore({ clock });
    const id = randomId();
    const marker = `pop:${randomId()}`;
    clock.advance(10_000);
    store.reserve(reservation({ credentials: [{ id, ttlMs: 60_000 }], once: [{ key: marker, ttlMs: 60_000 }] }));
    clock.advance(-600_000);
    expect(store.consumeOnce(marker, 60_000)).toBe(false);
    clock.set(clock.start + 10_000 + 59_000);
    expect(store.consumeCredential(id)).toBe('ok');
    expect(store.consumeOnce(marker, 60_000)).toBe(false);
  });

  test('a jump of a year drops everything at once', () => {
    const clock = createManualClock();
    const store = createMemoryStore({ clock });
    for (let i = 0; i < 1000; i++) {
      store.reserve(reservation({ credentials: [{ id: randomId(), ttlMs: 1000 + i * 1000 }], counters: [{ key: `calls:${i}:t`, limit: 5, ttlMs: 1000 + i * 1000 }] }));
    }
    expect(store.size).toBe(2000);
    clock.advance('8760h');
    expect(store.size).toBe(0);
  });
});

describe('the bound: refuses rather than evicts', () => {
  test('a full store refuses a new reservation whole, and still answers for what it holds', () => {
    const clock = createManualClock();
    const store = createMemoryStore({ clock, maxEntries: 2 });
    const spent = randomId();
    const marker = `pop:${randomId()}`;
    store.reserve(reservation({ credentials: [{ id: spent, ttlMs: 60_000 }], once: [{ key: marker, ttlMs: 60_000 }] }));
    expect(store.consumeCredential(spent)).toBe('ok');
    const fresh = randomId();
    expect(() => store.reserve(reservation({ credentials: [{ id: fresh, ttlMs: 60_000 }], counters: [{ key: 'calls:c:t', limit: 9, ttlMs: 60_000 }] }))).toThrow(StoreFullError);
    expect(store.consumeCredential(fresh)).toBe('unknown');
    expect(() => store.peek(reservation({ counters: [{ key: 'calls:c:t', limit: 1, ttlMs: 60_000 }] }))).toThrow(StoreFullError);
    expect(() => store.consumeOnce('approval:x', 60_000)).toThrow(StoreFullError);
    expect(() => store.revokeCredential(randomId(), 60_000)).toThrow(StoreFullError);
    expect(store.size).toBe(2);
    // Nothing was evicted to make room.
    expect(store.consumeCredential(spent)).toBe('spent');
    expect(store.consumeOnce(marker, 60_000)).toBe(false);
    // Once their bucket has passed there is room again.
    clock.advance(65_000);
    expect(store.reserve(register(fresh))).toEqual({ ok: true });
  });

  test('a revocation is written even into a full store: refusing a stop would fail open', () => {
    const store = createMemoryStore({ clock: createManualClock(), maxEntries: 1 });
    store.reserve(register(randomId()));
    store.revoke('agent:spiffe://example.org/agents/a', 5_000, 60_000);
    expect(store.size).toBe(2);
    expect(store.peek(reservation({ revocations: [{ key: 'agent:spiffe://example.org/agents/a', issuedAtMs: 5_000 }] }))).toEqual({
      ok: false,
      reason: 'revoked',
      key: 'agent:spiffe://example.org/agents/a',
    });
  });

  test('the error names the bound and carries no key', () => {
    const store = createMemoryStore({ clock: createManualClock(), maxEntries: 1 });
    store.reserve(register(randomId()));
    const secret = randomId();
    let caught: unknown;
    try {
      store.reserve(register(secret));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StoreFullError);
    expect((caught as Error).message).toMatch(/maxEntries 1/);
    expect((caught as Error).message).not.toContain(secret);
  });

  test('refusing is cheap: 5,000 refusals at a full store of 300,000 entries take well under a second', () => {
    const store = createMemoryStore({ clock: createManualClock(), maxEntries: 300_000 });
    for (let i = 0; i < 300_000; i++) store.reserve(register(randomId()));
    const ids = Array.from({ length: 5000 }, randomId);
    let refused = 0;
    const t0 = performance.now();
    for (const id of ids) {
      try {
        store.reserve(register(id));
      } catch (err) {
        if (err instanceof StoreFullError) refused++;
      }
    }
    const ms = performance.now() - t0;
    expect(refused).toBe(5000);
    // A sweep of every entry per refusal would be 1.5 billion visits.
    expect(ms).toBeLessThan(1000);
  });

  test.each([
    [{ maxEntries: 0 }, /maxEntries/],
    [{ maxEntries: 1.5 }, /maxEntries/],
    [{ maxEntries: Number.POSITIVE_INFINITY }, /maxEntries/],
    [{ sweepIntervalMs: 0 }, /sweepIntervalMs/],
    [{ sweepIntervalMs: Number.NaN }, /sweepIntervalMs/],
  ])('options %o are refused with a RangeError naming the option', (options, name) => {
    expect(() => createMemoryStore(options)).toThrow(RangeError);
    expect(() => createMemoryStore(options)).toThrow(name);
  });

  test('a reservation with a ttl that is not a number is refused before anything is written', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const id = randomId();
    const counter = { key: 'calls:c:t', limit: 1, ttlMs: 60_000 };
    expect(() => store.reserve(reservation({ counters: [counter], credentials: [{ id, ttlMs: Number.NaN }] }))).toThrow(RangeError);
    expect(store.size).toBe(0);
    expect(store.reserve(reservation({ counters: [counter] }))).toEqual({ ok: true });
  });
});

describe('peek', () => {
  test('answers what reserve would answer and writes nothing', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const marker = `pop:${randomId()}`;
    const counter = { key: 'calls:c:t', limit: 1, ttlMs: 60_000 };
    const id = randomId();
    const r = reservation({ once: [{ key: marker, ttlMs: 60_000 }], counters: [counter], credentials: [{ id, ttlMs: 60_000 }] });
    expect(store.peek(r)).toEqual({ ok: true });
    expect(store.peek(r)).toEqual({ ok: true });
    expect(store.size).toBe(0);
    expect(store.consumeCredential(id)).toBe('unknown');
    expect(store.reserve(r)).toEqual({ ok: true });
    expect(store.peek(reservation({ once: [{ key: marker, ttlMs: 60_000 }] }))).toEqual({ ok: false, reason: 'replay', key: marker });
    expect(store.peek(reservation({ counters: [counter] }))).toEqual({ ok: false, reason: 'limit', key: counter.key, limit: 1 });
    store.revoke('cap:c', 2_000, 60_000);
    expect(store.peek(reservation({ revocations: [{ key: 'cap:c', issuedAtMs: 2_000 }] }))).toEqual({ ok: false, reason: 'revoked', key: 'cap:c' });
    expect(store.peek(reservation({ revocations: [{ key: 'cap:c', issuedAtMs: 2_001 }] }))).toEqual({ ok: true });
    expect(store.size).toBe(4);
  });

  test('on a full store it refuses as reserve would', () => {
    const store = createMemoryStore({ clock: createManualClock(), maxEntries: 1 });
    store.reserve(register(randomId()));
    expect(() => store.peek(register(randomId()))).toThrow(StoreFullError);
    expect(store.peek(reservation({}))).toEqual({ ok: true });
  });
});

describe('sustained load', () => {
  test('one table growing while it is read: every one of 200,000 ids in one bucket keeps its own state', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const ids = Array.from({ length: 200_000 }, randomId);
    for (let i = 0; i < ids.length; i++) {
      store.reserve(register(ids[i]!));
      // Every third one is revoked while the tables grow, as calls end.
      if (i % 3 === 0) store.revokeCredential(ids[i]!, 60_000);
    }
    const states = new Map<string, number>();
    for (let i = 0; i < ids.length; i++) {
      const s = store.consumeCredential(ids[i]!);
      const expected = i % 3 === 0 ? 'revoked' : 'ok';
      if (s !== expected) states.set(s, (states.get(s) ?? 0) + 1);
    }
    expect(states).toEqual(new Map());
    expect(store.size).toBe(200_000);
  });

  test('at a rate whose minute of credentials fits the bound, 5 minutes of calls see no refusal and the store stays bounded', () => {
    // The guard's store traffic per call: revocation checks, a credential registered for 60 s
    // (30 s credential + 30 s margin), then revoked when the call ends. 2,000 calls/s keep
    // 2,000 × (60 + 3.75 + 1) s ≈ 130,000 entries; a store that never dropped them would hold 600,000.
    const clock = createManualClock();
    const store = createMemoryStore({ clock, maxEntries: 140_000 });
    const revocations = [{ key: 'cap:c', issuedAtMs: clock.start }, { key: 'intent:i', issuedAtMs: clock.start }];
    let refused = 0;
    let largest = 0;
    for (let call = 0; call < 2000 * 300; call++) {
      const id = randomId();
      try {
        if (!store.reserve({ revocations, counters: [], once: [], credentials: [{ id, ttlMs: 60_000 }] }).ok) refused++;
        store.revokeCredential(id, 60_000);
      } catch {
        refused++;
      }
      clock.advance(0.5);
      if (call % 2000 === 0) largest = Math.max(largest, store.size);
    }
    expect(refused).toBe(0);
    expect(largest).toBeLessThanOrEqual(130_000);
  });
});
