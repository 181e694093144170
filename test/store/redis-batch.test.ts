/**
 * Reservations issued in one event-loop turn share script calls: the script reads every key of
 * the batch at once (one MGET, one EXISTS) and applies each reservation on its own, a later one
 * seeing the earlier ones' writes. Against a real redis-server, through both clients; the
 * server's own command statistics show what each batch cost it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRedisStore, type RedisStore } from '../../src/store/redis.js';
import type { CallReservation, ReservationResult } from '../../src/store/types.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { CLIENT_KINDS, connectClient, copies, home, type TestClient } from './redis-clients.js';

const TTL = 60_000;
const reservation = (r: Partial<CallReservation>): CallReservation => ({ revocations: [], counters: [], once: [], credentials: [], ...r });

describe.skipIf(!redisTestsEnabled())('reservations batched into one script call (real redis-server)', () => {
  let server: RedisServer;
  let admin: TestClient;
  beforeAll(async () => {
    server = await startRedisServer({ durable: false });
    admin = await connectClient('ioredis', server.port);
  });
  afterAll(async () => {
    await admin?.close();
    await server?.stop();
  });

  /** Calls per command since the last reset, from INFO commandstats. */
  const commandCalls = async (): Promise<Record<string, number>> => {
    const info = String(await admin.command('INFO', 'commandstats'));
    const out: Record<string, number> = Object.create(null);
    for (const m of info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) out[m[1]!] = Number(m[2]);
    return out;
  };

  describe.each(CLIENT_KINDS)('through %s', (kind) => {
    let c: TestClient;
    let store: RedisStore;
    let prefix: string;
    let n = 0;
    beforeAll(async () => {
      c = await connectClient(kind, server.port);
    });
    afterAll(async () => {
      await c?.close();
    });
    const fresh = (): void => {
      prefix = `b:${kind}:${++n}:`;
      store = createRedisStore({ client: c.client, prefix });
    };
    const call = (capId: string, credential: string): CallReservation =>
      reservation({
        revocations: [
          { key: `cap:${capId}`, issuedAtMs: 1_795_000_000_000 },
          { key: 'agent:spiffe://example.org/agents/a', issuedAtMs: 1_795_000_000_000 },
          { key: 'intent:ticket-1', issuedAtMs: 1_795_000_000_000 },
        ],
        counters: [{ key: `calls:${capId}:tickets.read`, limit: 1_000_000, ttlMs: TTL }],
        credentials: [{ id: credential, ttlMs: TTL }],
      });

    test('32 calls in one turn cost the server one script call: one MGET, one EXISTS, one write per counter and one per credential', async () => {
      fresh();
      for (let i = 0; i < 4; i++) expect(await store.reserve(call(`cap${i}`, `first-${i}`))).toEqual({ ok: true });
      await admin.command('CONFIG', 'RESETSTAT');
      const results = await Promise.all(Array.from({ length: 32 }, (_, i) => store.reserve(call(`cap${i % 4}`, `cred-${i}`))));
      expect(results).toEqual(Array.from({ length: 32 }, () => ({ ok: true })));
      const calls = await commandCalls();
      expect((calls.evalsha ?? 0) + (calls.eval ?? 0)).toBe(1);
      expect(calls.mget).toBe(1);
      expect(calls.exists).toBe(1);
      // Each of the 4 counters takes the batch's 8 calls in one write.
      expect(calls.incrby).toBe(4);
      expect(calls.incr).toBeUndefined();
      expect(calls.set).toBe(32);
      for (let i = 0; i < 4; i++) expect(await admin.command('GET', home(prefix, `calls:cap${i}:tickets.read`))).toBe('9');
      expect(await admin.command('EXISTS', ...Array.from({ length: 32 }, (_, i) => home(prefix, `cred:cred-${i}`)))).toBe(32);
    });

    test('a counter shared by calls in the same turns stops exactly at its limit, across script calls', async () => {
      fresh();
      const key = 'calls:r00tId:tickets.read';
      const results = await Promise.all(
        Array.from({ length: 80 }, (_, i) => store.reserve(reservation({ counters: [{ key, limit: 50, ttlMs: TTL }], credentials: [{ id: `c${i}`, ttlMs: TTL }] }))),
      );
      const refused: ReservationResult = { ok: false, reason: 'limit', key, limit: 50 };
      expect(results).toEqual([...Array.from({ length: 50 }, () => ({ ok: true })), ...Array.from({ length: 30 }, () => refused)]);
      expect(await admin.command('GET', home(prefix, key))).toBe('50');
      // A refused reservation registered no credential.
      expect(await admin.command('EXISTS', ...Array.from({ length: 30 }, (_, i) => home(prefix, `cred:c${50 + i}`)))).toBe(0);
      expect(Number(await admin.command('PTTL', home(prefix, key)))).toBeGreaterThan(0);
    });

    test('a marker set by an earlier reservation of the same script call refuses a later one as a replay', async () => {
      fresh();
      const once = [{ key: 'pop:r00tId:proof-1', ttlMs: TTL }];
      const counters = [{ key: 'calls:r00tId:tickets.read', limit: 10, ttlMs: TTL }];
      const results = await Promise.all([
        store.reserve(reservation({ once, counters, credentials: [{ id: 'p1', ttlMs: TTL }] })),
        store.reserve(reservation({ once, counters, credentials: [{ id: 'p2', ttlMs: TTL }] })),
      ]);
      expect(results).toEqual([{ ok: true }, { ok: false, reason: 'replay', key: 'pop:r00tId:proof-1' }]);
      // The replayed reservation counted nothing and registered nothing.
      expect(await admin.command('GET', home(prefix, 'calls:r00tId:tickets.read'))).toBe('1');
      expect(await admin.command('EXISTS', home(prefix, 'cred:p2'))).toBe(0);
    });

    test('64 calls in one turn go out as two script calls of 32, and the calls of each resume in a turn of their own', async () => {
      fresh();
      await store.reserve(reservation({}));
      await admin.command('CONFIG', 'RESETSTAT');
      let turn = 0;
      let ticking = true;
      const tick = (): void => {
        turn++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      const resumedIn: number[] = [];
      await Promise.all(
        Array.from({ length: 64 }, (_, i) =>
          store.reserve(call('cap0', `t-${i}`)).then((r) => {
            expect(r).toEqual({ ok: true });
            resumedIn[i] = turn;
          }),
        ),
      );
      ticking = false;
      const calls = await commandCalls();
      expect((calls.evalsha ?? 0) + (calls.eval ?? 0)).toBe(2);
      expect(new Set(resumedIn.slice(0, 32)).size).toBe(1);
      expect(new Set(resumedIn.slice(32)).size).toBe(1);
      expect(resumedIn[32]!).toBeGreaterThan(resumedIn[0]!);
    });

    test('a batch that times out while carrying a credential revocation queues that revocation again, and nothing else', async () => {
      const errors: unknown[] = [];
      prefix = `b:${kind}:${++n}:`;
      store = createRedisStore({ client: c.client, prefix, timeoutMs: 100, onError: (e) => errors.push(e) });
      const at = 1_795_000_000_000;
      await store.revoke('cap:gone', at, TTL);
      expect(await store.reserve(call('cap0', 'live-1'))).toEqual({ ok: true });
      store.revokeCredential('live-1', TTL);
      // The server stalls: the batch carrying the revocation times out, and runs late.
      const sleeping = admin.command('DEBUG', 'SLEEP', '0.4');
      await new Promise((r) => setTimeout(r, 20));
      const late = reservation({
        revocations: [{ key: 'cap:gone', issuedAtMs: at - 1 }],
        counters: [{ key: 'calls:cap0:tickets.read', limit: 1_000_000, ttlMs: TTL }],
        credentials: [{ id: 'late-1', ttlMs: TTL }],
      });
      await expect(store.reserve(late)).rejects.toMatchObject({ code: 'store_unavailable' });
      await sleeping;
      await c.command('PING');
      await new Promise((r) => setTimeout(r, 50));
      await c.command('PING');
      // The revocation, the counter and the refused call's credential are as the late script left them.
      expect(await admin.command('GET', home(prefix, 'cap:gone'))).toBe(String(at));
      expect(await admin.command('GET', home(prefix, 'calls:cap0:tickets.read'))).toBe('1');
      expect(await admin.command('EXISTS', home(prefix, 'cred:late-1'))).toBe(0);
      expect(await admin.command('GET', home(prefix, 'cred:live-1'))).toBe('3');
      for (const key of (await admin.command('KEYS', `${prefix}*`)) as string[]) expect(Number(await admin.command('PTTL', key)), key).toBeGreaterThan(0);
      expect(await store.reserve(late)).toEqual({ ok: false, reason: 'revoked', key: 'cap:gone' });
      expect(errors.some((e) => e instanceof Error && /script error/i.test(String((e as Error).message)))).toBe(false);
    });

    test('a batch reading more than 1000 keys reads them 1000 at a time and still finds a revocation past the first 1000', async () => {
      fresh();
      const at = 1_795_000_000_000;
      await store.revoke('cap:far', at, TTL);
      await admin.command('CONFIG', 'RESETSTAT');
      const many = (from: number, extra: string[]): CallReservation =>
        reservation({
          revocations: [...Array.from({ length: 600 }, (_, i) => ({ key: `cap:k${from + i}`, issuedAtMs: at })), ...extra.map((key) => ({ key, issuedAtMs: at }))],
          credentials: [{ id: `m${from}`, ttlMs: TTL }],
        });
      const results = await Promise.all([store.reserve(many(0, [])), store.reserve(many(600, ['cap:far']))]);
      expect(results).toEqual([{ ok: true }, { ok: false, reason: 'revoked', key: 'cap:far' }]);
      const calls = await commandCalls();
      expect((calls.evalsha ?? 0) + (calls.eval ?? 0)).toBe(1);
      expect(calls.mget).toBe(2);
      expect(calls.exists).toBe(2);
    });

    test('calls that reserved in separate turns and are answered together reserve next in one script call', async () => {
      prefix = `b:${kind}:${++n}:`;
      store = createRedisStore({ client: c.client, prefix, timeoutMs: 5000 });
      await store.reserve(reservation({}));
      await admin.command('CONFIG', 'RESETSTAT');
      // The server stalls, so that the answers to 8 script calls sent in 8 turns arrive together.
      const sleeping = admin.command('DEBUG', 'SLEEP', '0.2');
      await new Promise((r) => setTimeout(r, 20));
      const seconds: Array<Promise<ReservationResult>> = [];
      for (let i = 0; i < 8; i++) {
        seconds.push(store.reserve(call('cap0', `first-${i}`)).then(() => store.reserve(call('cap0', `second-${i}`))));
        await new Promise((r) => setImmediate(r));
      }
      await sleeping;
      expect(await Promise.all(seconds)).toEqual(Array.from({ length: 8 }, () => ({ ok: true })));
      const calls = await commandCalls();
      expect((calls.evalsha ?? 0) + (calls.eval ?? 0)).toBe(9);
      expect(await admin.command('GET', home(prefix, 'calls:cap0:tickets.read'))).toBe('16');
    });

    test('a revocation in place before the batch refuses every call of it that it covers, and only those', async () => {
      fresh();
      await store.revoke('cap:cap1', 1_795_000_000_000, TTL);
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => store.reserve(call(`cap${i % 2}`, `r-${i}`))));
      const revoked: ReservationResult = { ok: false, reason: 'revoked', key: 'cap:cap1' };
      expect(results).toEqual([{ ok: true }, revoked, { ok: true }, revoked, { ok: true }, revoked]);
      expect(await admin.command('GET', home(prefix, 'calls:cap0:tickets.read'))).toBe('3');
      expect(await admin.command('EXISTS', home(prefix, 'calls:cap1:tickets.read'))).toBe(0);
    });
  });
});
