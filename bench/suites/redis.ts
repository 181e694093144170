/**
 * The Redis store against its floor: one raw round trip (SET NX PX) on the same server and
 * client. The figure that matters is what the store adds to a guarded call, in round trips.
 */
import { Redis as IORedis } from 'ioredis';
import { z } from 'zod';
import { createAuthority, createGuard, createMemoryStore, type TesseraStore } from '../../src/index.js';
import { createRedisStore } from '../../src/store/redis.js';
import { hasRedisServer, startRedisServer } from '../../test/support/redis-server.js';
import { median, round, type Floor, type Harness } from '../harness.js';

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


/**
 * Times the functions in turns, call by call, so that all of them see the same load; each round
 * yields one mean per function. On a shared machine the load drifts within seconds, so separate
 * timing runs would compare different machines.
 */
async function interleaved<K extends string>(
  fns: Record<K, () => Promise<unknown>>,
  options: { rounds: number; iterations: number },
): Promise<Record<K, number[]>> {
  const names = Object.keys(fns) as K[];
  const out = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (const n of names) for (let k = 0; k < options.iterations; k++) await fns[n]();
  const spent = new Float64Array(names.length);
  for (let r = 0; r < options.rounds; r++) {
    spent.fill(0);
    for (let k = 0; k < options.iterations; k++) {
      for (let j = 0; j < names.length; j++) {
        const t0 = performance.now();
        await fns[names[j]!]();
        spent[j]! += performance.now() - t0;
      }
    }
    names.forEach((n, j) => out[n].push((spent[j]! * 1000) / options.iterations));
  }
  return out;
}

export default async function redisSuite(h: Harness, _floor: Floor): Promise<Record<string, number | string>> {
  if (!hasRedisServer()) throw new Error('redis-server is not installed (apt-get install -y redis-server)');
  const server = await startRedisServer({ durable: false });
  const client = new IORedis({ host: '127.0.0.1', port: server.port, enableOfflineQueue: false, lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  try {
    let i = 0;
    const raw = () => client.set(`bench:raw:${i++}`, '1', 'PX', 10_000, 'NX');
    const memoryCall = await guardedCall(undefined);
    const store = createRedisStore({ client, prefix: 'bench:' });
    const redisCall = await guardedCall(store);
    // Diagnostic: the memory store behind one raw round trip. What the pipeline pays for any
    // awaited I/O at the store stage, whatever the store does.
    const memory = createMemoryStore();
    const oneTripCall = await guardedCall({ ...memory, reserve: (r) => raw().then(() => memory.reserve(r)) });
    // The ratio is taken within each round, then the median over rounds.
    const series = await interleaved({ raw, memory: memoryCall, redis: redisCall, oneTrip: oneTripCall }, { rounds: 15, iterations: 500 });
    const roundTripUs = median(series.raw);
    const memoryUs = median(series.memory);
    const redisUs = median(series.redis);
    const ratio = median(series.raw.map((r, k) => (series.redis[k]! - series.memory[k]!) / r));
    const oneTripRatio = median(series.raw.map((r, k) => (series.oneTrip[k]! - series.memory[k]!) / r));
    h.note('redis: raw round trip (SET NX PX)', `${roundTripUs.toFixed(2)} µs/op`);
    h.note('redis: guarded call, memory store (baseline)', `${memoryUs.toFixed(2)} µs/op`);
    h.note('redis: guarded call, Redis store (sequential)', `${redisUs.toFixed(2)} µs/op`);
    const throughput = await h.throughput('redis: guarded call, Redis store', redisCall, { concurrency: 64, total: 10_000 });
    h.note('redis: store added latency / raw round trip', `${ratio.toFixed(2)} (target <= 1.2)`);
    h.note('redis: memory store behind one round trip, added / raw round trip', oneTripRatio.toFixed(2));
    store.close();
    return {
      redis_roundtrip_us: round(roundTripUs),
      redis_guarded_call_us: round(redisUs),
      memory_guarded_call_us: round(memoryUs),
      redis_store_vs_roundtrip: round(ratio),
      redis_one_trip_baseline_vs_roundtrip: round(oneTripRatio),
      redis_throughput_per_s: Math.round(throughput),
    };
  } finally {
    client.disconnect();
    await server.stop();
  }
}
