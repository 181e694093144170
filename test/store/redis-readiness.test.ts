/**
 * Readiness and failure reasons. The documented setup creates the client and the store at once,
 * with the offline queue off: the first call must wait for the connection (within the store's
 * deadline) instead of being denied. Every reason names its failure class and never quotes the
 * client's message or the connection URL.
 */
import { Redis as IORedis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRedisStore, RedisStoreError } from '../../src/store/redis.js';
import type { CallReservation } from '../../src/store/types.js';
import { setup } from '../support/fixtures.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';

const TTL = 60_000;
const reservation = (r: Partial<CallReservation>): CallReservation => ({ revocations: [], counters: [], once: [], credentials: [], ...r });

describe.skipIf(!redisTestsEnabled())('Redis readiness and failure reasons (real redis-server)', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer({ durable: false });
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('ioredis, as documented (new Redis(url, { enableOfflineQueue: false })): the first call waits for the connection and runs', async () => {
    const client = new IORedis(server.url, { enableOfflineQueue: false });
    try {
      expect(client.status).not.toBe('ready');
      const { readTicket, grant, ran } = await setup({ store: createRedisStore({ client, prefix: 'ready:io:', timeoutMs: 5000 }) });
      await readTicket({ ticketId: '4711' }, { capability: await grant() });
      expect(ran).toEqual(['tickets.read:4711']);
    } finally {
      client.disconnect();
    }
  });

  test('node-redis: a call made while connect() is in progress waits for it and runs', async () => {
    const client = createClient({ url: server.url, disableOfflineQueue: true });
    client.on('error', () => undefined);
    const connecting = client.connect();
    try {
      expect(client.isReady).toBe(false);
      const store = createRedisStore({ client, prefix: 'ready:nr:', timeoutMs: 5000 });
      expect(await store.reserve(reservation({ counters: [{ key: 'calls:x:t', limit: 1, ttlMs: TTL }] }))).toEqual({ ok: true });
    } finally {
      await connecting;
      client.destroy();
    }
  });

  test('a client that never becomes ready is denied at the deadline, naming its state', async () => {
    // Nothing listens on port 1: ioredis keeps reconnecting.
    const client = new IORedis({ host: '127.0.0.1', port: 1, enableOfflineQueue: false, retryStrategy: () => 20 });
    client.on('error', () => undefined);
    try {
      const store = createRedisStore({ client, timeoutMs: 100 });
      const err = (await store.reserve(reservation({})).catch((e: unknown) => e)) as RedisStoreError;
      expect(err).toBeInstanceOf(RedisStoreError);
      expect(err.reason).toMatch(/^Redis client not ready \(ioredis status: (connecting|reconnecting|close)\) within 100 ms; calls are denied until it connects$/);
    } finally {
      client.disconnect();
    }
  });

  test('a client that is not connecting at all (node-redis before connect()) is denied at once, naming its state', async () => {
    const client = createClient({ url: server.url, disableOfflineQueue: true });
    const store = createRedisStore({ client, timeoutMs: 1000 });
    const t0 = performance.now();
    const err = (await store.reserve(reservation({})).catch((e: unknown) => e)) as RedisStoreError;
    expect(performance.now() - t0).toBeLessThan(500);
    expect(err.reason).toBe('Redis client not ready (node-redis: not connected); connect it before use; calls are denied until it connects');
  });

  test('a refused command is a script error naming the server code only; the password in the URL appears nowhere', async () => {
    // A user who may not run scripts: the server refuses with NOPERM.
    const admin = new IORedis(server.url);
    await admin.call('ACL', 'SETUSER', 'noscripts', 'on', '>hunter2-SECRET', '~*', '+@all', '-eval', '-evalsha');
    const url = `redis://noscripts:hunter2-SECRET@127.0.0.1:${server.port}`;
    const client = new IORedis(url, { enableOfflineQueue: false });
    const seen: unknown[] = [];
    try {
      const { readTicket, grant, ran } = await setup({ store: createRedisStore({ client, onError: (e) => seen.push(e) }) });
      const denial = (await readTicket({ ticketId: '4711' }, { capability: await grant() }).catch((e: unknown) => e)) as Error & { code: string; reason: string };
      expect(denial.code).toBe('store_unavailable');
      expect(denial.reason).toBe("Redis script error (NOPERM): the server refused the store's script; calls are denied until it accepts it");
      const { inspect } = await import('node:util');
      for (const text of [denial.message, JSON.stringify(denial), inspect(denial, { depth: 5, showHidden: true })]) {
        expect(text).not.toMatch(/hunter2|noscripts|127\.0\.0\.1|evalsha/i);
      }
      expect(ran).toEqual([]);
      // The host still gets the raw error through onError.
      expect(seen.length).toBeGreaterThan(0);
    } finally {
      client.disconnect();
      await admin.call('ACL', 'DELUSER', 'noscripts');
      admin.disconnect();
    }
  });

  test('a connection lost while a call is in flight is named as such', async () => {
    const own = await startRedisServer({ durable: false });
    const client = createClient({ url: own.url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 50 } });
    client.on('error', () => undefined);
    await client.connect();
    const blocker = new IORedis(own.url);
    blocker.on('error', () => undefined);
    try {
      const store = createRedisStore({ client, timeoutMs: 3000 });
      expect(await store.reserve(reservation({}))).toEqual({ ok: true });
      // The server stalls, so the reservation is on the wire when the server dies.
      void blocker.call('DEBUG', 'SLEEP', '2').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
      const pending = store.reserve(reservation({})).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 50));
      await own.kill();
      const err = (await pending) as RedisStoreError;
      expect(err).toBeInstanceOf(RedisStoreError);
      expect(err.reason).toBe('Redis connection lost (node-redis: connecting); calls are denied until it reconnects');
    } finally {
      blocker.disconnect();
      client.destroy();
      await own.stop();
    }
  });
});
