/**
 * The store contract: the behaviour the guard relies on from every `TesseraStore`. The memory
 * store and the Redis store pass it; a store of your own must too. In a vitest file:
 *
 *   import { describeStoreContract } from 'tessera-guard/testing';
 *   describeStoreContract('my store', () => ({ store: createMyStore(), elapse: (ms) => sleep(ms) }));
 *
 * Tests use fresh key names, so they may share one store.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import type { CallReservation, TesseraStore } from '../store/types.js';

export interface StoreContractSubject {
  readonly store: TesseraStore;
  /** Lets `ms` pass for the store: move a manual clock, or wait on a store that keeps real time. */
  elapse(ms: number): Promise<void>;
}

export interface StoreContractOptions {
  /** A ttl short enough to wait out in the expiry tests; default 1000 ms. */
  readonly shortTtlMs?: number;
  /** Fail when the store has no read-only `peek` (it is optional for a store); default true. */
  readonly requirePeek?: boolean;
}

const TTL = 60_000;
const reservation = (r: Partial<CallReservation>): CallReservation => ({
  revocations: [],
  counters: [],
  once: [],
  credentials: [],
  ...r,
});

export function describeStoreContract(name: string, makeSubject: () => StoreContractSubject, options: StoreContractOptions = {}): void {
  const shortTtl = options.shortTtlMs ?? 1000;
  describe(name, () => {
    contract(makeSubject, shortTtl, options);
  });
}

function contract(makeSubject: () => StoreContractSubject, shortTtl: number, options: StoreContractOptions): void {
  let s: StoreContractSubject;
  beforeAll(() => {
    s = makeSubject();
  });
  let n = 0;
  // Fresh names per test, so tests share one store without seeing each other's keys.
  const id = (name: string): string => `${name}-${++n}-${Math.random().toString(36).slice(2)}`;

  test('a counter allows exactly its limit, then refuses naming the key and the limit', async () => {
    const key = `calls:${id('cap')}:email.send`;
    const r = reservation({ counters: [{ key, limit: 3, ttlMs: TTL }] });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await s.store.reserve(r));
    expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }, { ok: false, reason: 'limit', key, limit: 3 }, { ok: false, reason: 'limit', key, limit: 3 }]);
  });

  test('a revocation applies to tokens issued at or before its time, and not after', async () => {
    const key = `cap:${id('jti')}`;
    await s.store.revoke(key, 1000, TTL);
    expect(await s.store.reserve(reservation({ revocations: [{ key, issuedAtMs: 999 }] }))).toEqual({ ok: false, reason: 'revoked', key });
    expect(await s.store.reserve(reservation({ revocations: [{ key, issuedAtMs: 1000 }] }))).toEqual({ ok: false, reason: 'revoked', key });
    expect(await s.store.reserve(reservation({ revocations: [{ key, issuedAtMs: 1001 }] }))).toEqual({ ok: true });
  });

  test('a revocation only widens: an earlier time never shortens a later one', async () => {
    const key = `agent:${id('spiffe')}`;
    await s.store.revoke(key, 2000, TTL);
    await s.store.revoke(key, 1000, TTL);
    expect(await s.store.reserve(reservation({ revocations: [{ key, issuedAtMs: 1500 }] }))).toEqual({ ok: false, reason: 'revoked', key });
  });

  test('a revocation for every token ever issued (the largest safe integer) holds exactly', async () => {
    const key = `cap:${id('jti')}`;
    await s.store.revoke(key, Number.MAX_SAFE_INTEGER, TTL);
    expect(await s.store.reserve(reservation({ revocations: [{ key, issuedAtMs: Number.MAX_SAFE_INTEGER - 1 }] }))).toEqual({ ok: false, reason: 'revoked', key });
  });

  test('revocation times are compared to the millisecond', async () => {
    const key = `agent:${id('spiffe')}`;
    const at = 1_795_000_000_123;
    await s.store.revoke(key, at, TTL);
    expect(await s.store.reserve(reservation({ revocations: [{ key, issuedAtMs: at - 1 }] }))).toEqual({ ok: false, reason: 'revoked', key });
    expect(await s.store.reserve(reservation({ revocations: [{ key, issuedAtMs: at }] }))).toEqual({ ok: false, reason: 'revoked', key });
    expect(await s.store.reserve(reservation({ revocations: [{ key, issuedAtMs: at + 1 }] }))).toEqual({ ok: true });
  });

  test('peek answers what reserve would, and writes nothing', async () => {
    if (options.requirePeek !== false) expect(s.store.peek).toBeTypeOf('function');
    if (s.store.peek === undefined) return;
    const counter = `calls:${id('cap')}:a`;
    const marker = `pop:${id('cap')}:${id('proof')}`;
    const rev = `intent:${id('intent')}`;
    const cred = id('cred');
    const r = reservation({
      revocations: [{ key: rev, issuedAtMs: 5000 }],
      counters: [{ key: counter, limit: 1, ttlMs: TTL }],
      once: [{ key: marker, ttlMs: TTL }],
      credentials: [{ id: cred, ttlMs: TTL }],
    });
    expect(await s.store.peek(r)).toEqual({ ok: true });
    expect(await s.store.peek(r)).toEqual({ ok: true });
    expect(await s.store.consumeCredential(cred)).toBe('unknown');
    expect(await s.store.reserve(reservation({ counters: [{ key: counter, limit: 1, ttlMs: TTL }] }))).toEqual({ ok: true });
    expect(await s.store.peek(r)).toEqual({ ok: false, reason: 'limit', key: counter, limit: 1 });
    expect(await s.store.consumeOnce(marker, TTL)).toBe(true);
    expect(await s.store.peek(r)).toEqual({ ok: false, reason: 'replay', key: marker });
    await s.store.revoke(rev, 5000, TTL);
    expect(await s.store.peek(r)).toEqual({ ok: false, reason: 'revoked', key: rev });
  });

  test('a once-marker is accepted once, then reads as a replay', async () => {
    const key = `pop:${id('proof')}`;
    const r = reservation({ once: [{ key, ttlMs: TTL }] });
    expect(await s.store.reserve(r)).toEqual({ ok: true });
    expect(await s.store.reserve(r)).toEqual({ ok: false, reason: 'replay', key });
  });

  test('a refused reservation changes nothing: no counter, marker or credential is written', async () => {
    const free = `calls:${id('cap')}:a`;
    const full = `calls:${id('cap')}:b`;
    const marker = `pop:${id('proof')}`;
    const cred = id('cred');
    expect(await s.store.reserve(reservation({ counters: [{ key: full, limit: 1, ttlMs: TTL }] }))).toEqual({ ok: true });
    const refused = await s.store.reserve(
      reservation({
        counters: [{ key: free, limit: 1, ttlMs: TTL }, { key: full, limit: 1, ttlMs: TTL }],
        once: [{ key: marker, ttlMs: TTL }],
        credentials: [{ id: cred, ttlMs: TTL }],
      }),
    );
    expect(refused).toEqual({ ok: false, reason: 'limit', key: full, limit: 1 });
    expect(await s.store.reserve(reservation({ counters: [{ key: free, limit: 1, ttlMs: TTL }] }))).toEqual({ ok: true });
    expect(await s.store.consumeOnce(marker, TTL)).toBe(true);
    expect(await s.store.consumeCredential(cred)).toBe('unknown');
  });

  test('a revoked reservation changes nothing either', async () => {
    const rev = `intent:${id('intent')}`;
    const counter = `calls:${id('cap')}:a`;
    await s.store.revoke(rev, 5000, TTL);
    const r = reservation({ revocations: [{ key: rev, issuedAtMs: 4000 }], counters: [{ key: counter, limit: 1, ttlMs: TTL }] });
    expect(await s.store.reserve(r)).toEqual({ ok: false, reason: 'revoked', key: rev });
    expect(await s.store.reserve(reservation({ counters: [{ key: counter, limit: 1, ttlMs: TTL }] }))).toEqual({ ok: true });
  });

  test('revocation is checked before replay, and replay before limits', async () => {
    const rev = `cap:${id('jti')}`;
    const marker = `pop:${id('proof')}`;
    const counter = `calls:${id('cap')}:a`;
    await s.store.reserve(reservation({ once: [{ key: marker, ttlMs: TTL }], counters: [{ key: counter, limit: 1, ttlMs: TTL }] }));
    const all = { once: [{ key: marker, ttlMs: TTL }], counters: [{ key: counter, limit: 1, ttlMs: TTL }] };
    expect(await s.store.reserve(reservation(all))).toEqual({ ok: false, reason: 'replay', key: marker });
    await s.store.revoke(rev, 10, TTL);
    expect(await s.store.reserve(reservation({ ...all, revocations: [{ key: rev, issuedAtMs: 10 }] }))).toEqual({ ok: false, reason: 'revoked', key: rev });
  });

  test('every counter of one call counts (a delegated call spends its ancestors\' budgets too)', async () => {
    const child = `calls:${id('child')}:a`;
    const parent = `calls:${id('parent')}:a`;
    const both = reservation({ counters: [{ key: child, limit: 5, ttlMs: TTL }, { key: parent, limit: 2, ttlMs: TTL }] });
    expect(await s.store.reserve(both)).toEqual({ ok: true });
    expect(await s.store.reserve(both)).toEqual({ ok: true });
    expect(await s.store.reserve(both)).toEqual({ ok: false, reason: 'limit', key: parent, limit: 2 });
  });

  test('consumeOnce is true once, then false', async () => {
    const key = `approval:${id('a')}`;
    expect(await s.store.consumeOnce(key, TTL)).toBe(true);
    expect(await s.store.consumeOnce(key, TTL)).toBe(false);
  });

  test('a registered credential is consumed once: ok, then spent', async () => {
    const cred = id('cred');
    await s.store.reserve(reservation({ credentials: [{ id: cred, ttlMs: TTL }] }));
    expect(await s.store.consumeCredential(cred)).toBe('ok');
    expect(await s.store.consumeCredential(cred)).toBe('spent');
  });

  test('a revoked live credential reads as revoked; a spent one stays spent', async () => {
    const live = id('cred');
    const spent = id('cred');
    await s.store.reserve(reservation({ credentials: [{ id: live, ttlMs: TTL }, { id: spent, ttlMs: TTL }] }));
    expect(await s.store.consumeCredential(spent)).toBe('ok');
    await s.store.revokeCredential(live, TTL);
    await s.store.revokeCredential(spent, TTL);
    expect(await s.store.consumeCredential(live)).toBe('revoked');
    expect(await s.store.consumeCredential(spent)).toBe('spent');
  });

  test('an unregistered credential is unknown; revoking one keeps it revoked', async () => {
    const never = id('cred');
    const early = id('cred');
    expect(await s.store.consumeCredential(never)).toBe('unknown');
    await s.store.revokeCredential(early, TTL);
    expect(await s.store.consumeCredential(early)).toBe('revoked');
  });

  test('entries expire with the tokens they serve', async () => {
    const counter = `calls:${id('cap')}:a`;
    const marker = `pop:${id('proof')}`;
    const cred = id('cred');
    const rev = `cap:${id('jti')}`;
    const r = reservation({ counters: [{ key: counter, limit: 1, ttlMs: shortTtl }], once: [{ key: marker, ttlMs: shortTtl }], credentials: [{ id: cred, ttlMs: shortTtl }] });
    expect(await s.store.reserve(r)).toEqual({ ok: true });
    await s.store.revoke(rev, 100, shortTtl);
    expect(await s.store.reserve(reservation({ revocations: [{ key: rev, issuedAtMs: 100 }] }))).toEqual({ ok: false, reason: 'revoked', key: rev });
    await s.elapse(shortTtl * 2);
    expect(await s.store.reserve(r)).toEqual({ ok: true });
    expect(await s.store.reserve(reservation({ revocations: [{ key: rev, issuedAtMs: 100 }] }))).toEqual({ ok: true });
    expect(await s.store.consumeCredential(id('cred'))).toBe('unknown');
  });

  // Optional for a store: without it, a grant with a per-intent retrieval bound denies.
  test('addWithin adds every amount or none, refusing with the total of the counter it names', async (ctx) => {
    if (s.store.addWithin === undefined) return ctx.skip();
    const records = `retrieval:${id('intent')}:t:records`;
    const bytes = `retrieval:${id('intent')}:t:bytes`;
    const both = (r: number, b: number) => [
      { key: records, amount: r, limit: 10, ttlMs: TTL },
      { key: bytes, amount: b, limit: 100, ttlMs: TTL },
    ];
    expect(await s.store.addWithin(both(6, 60))).toEqual({ ok: true });
    expect(await s.store.addWithin(both(1, 41))).toEqual({ ok: false, key: bytes, limit: 100, total: 60 });
    expect(await s.store.addWithin(both(4, 40))).toEqual({ ok: true });
    expect(await s.store.addWithin(both(1, 0))).toEqual({ ok: false, key: records, limit: 10, total: 10 });
    expect(await s.store.addWithin(both(0, 0))).toEqual({ ok: true });
  });

  test('addWithin sums expire with their ttl', async (ctx) => {
    if (s.store.addWithin === undefined) return ctx.skip();
    const key = `retrieval:${id('intent')}:t:records`;
    expect(await s.store.addWithin([{ key, amount: 5, limit: 5, ttlMs: shortTtl }])).toEqual({ ok: true });
    expect(await s.store.addWithin([{ key, amount: 1, limit: 5, ttlMs: shortTtl }])).toEqual({ ok: false, key, limit: 5, total: 5 });
    await s.elapse(shortTtl * 2);
    expect(await s.store.addWithin([{ key, amount: 1, limit: 5, ttlMs: shortTtl }])).toEqual({ ok: true });
  });

  test('a credential past its ttl is unknown', async () => {
    const cred = id('cred');
    await s.store.reserve(reservation({ credentials: [{ id: cred, ttlMs: shortTtl }] }));
    await s.elapse(shortTtl * 2);
    expect(await s.store.consumeCredential(cred)).toBe('unknown');
  });
}

