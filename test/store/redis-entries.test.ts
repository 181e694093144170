/**
 * A key of another type, or a value of another shape, under any name the store reads is never
 * taken for "absent": every operation that reads it rejects with `store_unavailable` and names
 * the entry. Against a real redis-server, through both clients.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRedisStore, RedisStoreError, type RedisStore } from '../../src/store/redis.js';
import type { CallReservation } from '../../src/store/types.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { CLIENT_KINDS, connectClient, copies, home, type TestClient } from './redis-clients.js';

const TTL = 60_000;
const reservation = (r: Partial<CallReservation>): CallReservation => ({ revocations: [], counters: [], once: [], credentials: [], ...r });

// Each way an entry can be wrong: the command that plants it, and what the reason says.
const WRONG = [
  { what: 'a hash', plant: (k: string) => ['HSET', k, 'f', '1'], says: 'a key of another type' },
  { what: 'a list', plant: (k: string) => ['RPUSH', k, '1'], says: 'a key of another type' },
  { what: 'a set', plant: (k: string) => ['SADD', k, '1'], says: 'a key of another type' },
  { what: 'a zset', plant: (k: string) => ['ZADD', k, '1', '1'], says: 'a key of another type' },
  { what: 'a non-numeric string', plant: (k: string) => ['SET', k, 'x'], says: 'a value of another shape' },
  { what: 'a number in another notation', plant: (k: string) => ['SET', k, '1e15'], says: 'a value of another shape' },
  { what: 'a negative number', plant: (k: string) => ['SET', k, '-5'], says: 'a value of another shape' },
] as const;

describe.skipIf(!redisTestsEnabled())('entries of another type or shape (real redis-server)', () => {
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

  describe.each(CLIENT_KINDS)('through %s', (kind) => {
    let c: TestClient;
    let store: RedisStore;
    let n = 0;
    beforeAll(async () => {
      c = await connectClient(kind, server.port);
    });
    afterAll(async () => {
      await c?.close();
    });
    const fresh = (): string => {
      const prefix = `e:${kind}:${++n}:`;
      store = createRedisStore({ client: c.client, prefix });
      return prefix;
    };
    const refusal = async (p: unknown): Promise<RedisStoreError> => {
      const err = await Promise.resolve(p).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RedisStoreError);
      return err as RedisStoreError;
    };

    describe.each(WRONG)('$what', ({ plant, says }) => {
      test.each(['cap:r00tId', 'agent:spiffe://example.org/a', 'intent:ticket-1'])('under the revocation key %s: reserve, peek and revoke fail closed', async (key) => {
        const prefix = fresh();
        for (const k of copies(prefix, key)) await admin.command(...plant(k));
        const r = reservation({ revocations: [{ key, issuedAtMs: 1_795_000_000_000 }], credentials: [{ id: 'c1', ttlMs: TTL }] });
        const reason = `Redis store unexpected entry: ${says} under the revocation key ${JSON.stringify(key)}; calls are denied until it is removed`;
        expect((await refusal(store.reserve(r))).reason).toBe(reason);
        expect((await refusal(store.peek(r))).reason).toBe(reason);
        expect((await refusal(store.revoke(key, 1_795_000_000_000, TTL))).reason).toBe(reason);
        // The refused reservation registered nothing.
        expect(await admin.command('EXISTS', home(prefix, 'cred:c1'))).toBe(0);
      });

      test('under a counter key: reserve and peek fail closed, and nothing is counted', async () => {
        const prefix = fresh();
        const key = 'calls:r00tId:tickets.read';
        for (const k of copies(prefix, key)) await admin.command(...plant(k));
        const before = await admin.command('DUMP', home(prefix, key));
        const r = reservation({ counters: [{ key, limit: 1_000_000, ttlMs: TTL }] });
        const reason = `Redis store unexpected entry: ${says} under the counter key ${JSON.stringify(key)}; calls are denied until it is removed`;
        expect((await refusal(store.reserve(r))).reason).toBe(reason);
        expect((await refusal(store.peek(r))).reason).toBe(reason);
        expect(await admin.command('DUMP', home(prefix, key))).toEqual(before);
      });

      test('under a marker key: reserve, peek and consumeOnce fail closed', async () => {
        const prefix = fresh();
        const key = 'pop:r00tId:proof-jti-0123456789';
        for (const k of copies(prefix, key)) await admin.command(...plant(k));
        const r = reservation({ once: [{ key, ttlMs: TTL }] });
        const reason = `Redis store unexpected entry: ${says} under the marker key ${JSON.stringify(key)}; calls are denied until it is removed`;
        expect((await refusal(store.reserve(r))).reason).toBe(reason);
        expect((await refusal(store.peek(r))).reason).toBe(reason);
        expect((await refusal(store.consumeOnce(key, TTL))).reason).toBe(reason);
      });

      test('under a credential key: consumeCredential fails closed; revoking it leaves it revoked', async () => {
        const prefix = fresh();
        await admin.command(...plant(home(prefix, 'cred:c9')));
        expect((await refusal(store.consumeCredential('c9'))).reason).toBe(
          `Redis store unexpected entry: ${says} under the credential key "cred:c9"; calls are denied until it is removed`,
        );
        await createRedisStore({ client: c.client, prefix, awaitCredentialRevocation: true }).revokeCredential('c9', TTL);
        expect(await store.consumeCredential('c9')).toBe('revoked');
      });
    });

    test('one bad reservation in a batch fails alone: the others in the same script call are answered', async () => {
      const prefix = fresh();
      for (const k of copies(prefix, 'intent:bad')) await admin.command('HSET', k, 'f', '1');
      const good = reservation({ counters: [{ key: 'calls:r00tId:a', limit: 1, ttlMs: TTL }] });
      const bad = reservation({ revocations: [{ key: 'intent:bad', issuedAtMs: 1 }], counters: [{ key: 'calls:r00tId:b', limit: 1, ttlMs: TTL }] });
      const results = await Promise.allSettled([store.reserve(good), store.reserve(bad), store.reserve(good)]);
      expect(results[0]).toEqual({ status: 'fulfilled', value: { ok: true } });
      expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'store_unavailable' } });
      expect(results[2]).toEqual({ status: 'fulfilled', value: { ok: false, reason: 'limit', key: 'calls:r00tId:a', limit: 1 } });
      expect(await admin.command('EXISTS', home(prefix, 'calls:r00tId:b'))).toBe(0);
    });
  });
});
