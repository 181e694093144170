/**
 * The store contract (exported as `describeStoreContract` from `tessera-guard/testing`), run
 * against the memory store (the reference) and the Redis store through both real clients.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { createMemoryStore } from '../../src/store/memory.js';
import { createRedisStore } from '../../src/store/redis.js';
import { describeStoreContract } from '../../src/testing/store-contract.js';
import { manualClock } from '../support/fixtures.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { CLIENT_KINDS, connectClient, type TestClient } from './redis-clients.js';

const clock = manualClock();
describeStoreContract('memory store', () => ({ store: createMemoryStore({ clock }), elapse: async (ms) => clock.advance(ms) }));

const redisEnabled = redisTestsEnabled();

describe.skipIf(!redisEnabled)('redis store', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  for (const kind of CLIENT_KINDS) {
    describe(`through ${kind}`, () => {
      let client: TestClient | undefined;
      beforeAll(async () => {
        client = await connectClient(kind, server.port);
      });
      afterAll(async () => {
        await client?.close();
      });
      // Redis keeps real time; 100 ms is long enough to be reliable and short enough to wait for.
      describeStoreContract(
        'contract',
        () => ({
          store: createRedisStore({ client: client!.client, prefix: `contract:${kind}:` }),
          elapse: (ms) => new Promise((r) => setTimeout(r, ms)),
        }),
        { shortTtlMs: 100 },
      );
    });
  }
});
