/**
 * The Redis store against its floor: one raw round trip (SET NX PX) on the same server and
 * client. The figure that matters is what the store adds to a guarded call, in round trips.
 */
import { Redis as IORedis } from 'ioredis';
import { z } from 'zod';
import { createAuthority, createGuard, type TesseraStore } from '../../src/index.js';
import { createRedisStore } from '../../src/store/redis.js';
import { hasRedisServer, startRedisServer } from '../../test/support/redis-server.js';
import { round, type Floor, type Harness } from '../harness.js';

const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'bench-app';
const AGENT = 'spiffe://example.org/agents/bench';

async function guardedCall(store: TesseraStore | undefined) {
  const authority = await createAuthority({ issuer: ISSUER });
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, ...(store ? { store } : {}) });
  const read = guard.tool(
    { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    async (args) => args.ticketId,
  );
  // A call limit large enough never to bite, so that every call does the full store work:
  // revocation checks, a counter increment and a credential registration.
  const capability = await authority.grant({
    agent: AGENT,
    audience: AUDIENCE,
    intent: { id: 'bench', purpose: 'Benchmark' },
    tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } }, maxCalls: 1_000_000 } },
    ttl: '1h',
  });
  const args = { ticketId: '4711' };
  return () => read(args, { capability });
}

export default async function redisSuite(h: Harness, _floor: Floor): Promise<Record<string, number | string>> {
  if (!hasRedisServer()) throw new Error('redis-server is not installed (apt-get install -y redis-server)');
  const server = await startRedisServer({ durable: false });
  const client = new IORedis({ host: '127.0.0.1', port: server.port, enableOfflineQueue: false, lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  try {
    let i = 0;
    const roundTripUs = await h.time('redis: raw round trip (SET NX PX)', () => client.set(`bench:raw:${i++}`, '1', 'PX', 10_000, 'NX'), {
      iterations: 2000,
    });
    const memoryCall = await guardedCall(undefined);
    const memoryUs = await h.time('redis: guarded call, memory store (baseline)', memoryCall, { iterations: 2000 });
    const store = createRedisStore({ client, prefix: 'bench:' });
    const redisCall = await guardedCall(store);
    const redisUs = await h.time('redis: guarded call, Redis store (sequential)', redisCall, { iterations: 2000 });
    const throughput = await h.throughput('redis: guarded call, Redis store', redisCall, { concurrency: 64, total: 10_000 });
    const ratio = (redisUs - memoryUs) / roundTripUs;
    h.note('redis: store added latency / raw round trip', `${ratio.toFixed(2)} (target <= 1.2)`);
    store.close();
    return {
      redis_roundtrip_us: round(roundTripUs),
      redis_guarded_call_us: round(redisUs),
      memory_guarded_call_us: round(memoryUs),
      redis_store_vs_roundtrip: round(ratio),
      redis_throughput_per_s: Math.round(throughput),
    };
  } finally {
    client.disconnect();
    await server.stop();
  }
}
