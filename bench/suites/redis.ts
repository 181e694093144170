/**
 * The Redis store against its floor: one raw round trip (SET NX PX) on the same server and
 * client. The figure that matters is what the store adds to a guarded call, in round trips.
 */
import { Redis as IORedis } from 'ioredis';
import { z } from 'zod';
import { createAuthority, createGuard, createMemoryStore, type TesseraStore, guardTool } from '../../src/index.js';
import { createRedisStore } from '../../src/store/redis.js';
import { hasRedisServer, startRedisServer } from '../../test/support/redis-server.js';
import { median, round, type Floor, type Harness } from '../harness.js';

const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'bench-app';
const AGENT = 'spiffe://example.org/agents/bench';

async function guardedCall(store: TesseraStore | undefined) {
  const authority = await createAuthority({ issuer: ISSUER });
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, ...(store ? { store } : {}) });
  const read = guardTool(
    guard,
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


const shuffle = <T>(xs: T[]): T[] => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
};

/**
 * Times the functions in rounds, in a fresh random order each round, so that all of them see the
 * same load and none always runs first; each round yields one mean per function.
 */
async function interleaved<K extends string>(
  fns: Record<K, () => Promise<unknown>>,
  options: { rounds: number; iterations: number },
): Promise<Record<K, number[]>> {
  const names = Object.keys(fns) as K[];
  const out = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (const n of names) for (let k = 0; k < options.iterations; k++) await fns[n]();
  for (let r = 0; r < options.rounds; r++) {
    for (const n of shuffle([...names])) {
      const t0 = performance.now();
      for (let k = 0; k < options.iterations; k++) await fns[n]();
      out[n].push(((performance.now() - t0) * 1000) / options.iterations);
    }
  }
  return out;
}

/** Calls/s with `concurrency` in flight, per round, the functions in a fresh random order each round. */
async function throughputRounds<K extends string>(
  fns: Record<K, () => Promise<unknown>>,
  options: { rounds: number; total: number; concurrency: number },
): Promise<Record<K, number[]>> {
  const names = Object.keys(fns) as K[];
  const out = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const once = async (fn: () => Promise<unknown>): Promise<number> => {
    let started = 0;
    const t0 = performance.now();
    const worker = async (): Promise<void> => {
      while (started < options.total) {
        started++;
        await fn();
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    return options.total / ((performance.now() - t0) / 1000);
  };
  for (const n of names) await once(fns[n]);
  for (let r = 0; r < options.rounds; r++) for (const n of shuffle([...names])) out[n].push(await once(fns[n]));
  return out;
}

/** Server time of the store's scripts, from INFO commandstats: µs per script call and per reservation. */
async function scriptServerTime(client: IORedis, run: () => Promise<unknown>, calls: number, concurrency: number) {
  await client.call('CONFIG', 'RESETSTAT');
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < calls) {
      started++;
      await run();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const info = String(await client.call('INFO', 'commandstats'));
  const stat = (cmd: string) => {
    const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+),usec=(\\d+)`).exec(info);
    return m ? { calls: Number(m[1]), usec: Number(m[2]) } : { calls: 0, usec: 0 };
  };
  const scripts = [stat('evalsha'), stat('eval')].reduce((a, b) => ({ calls: a.calls + b.calls, usec: a.usec + b.usec }));
  const set = stat('set');
  return {
    perScriptUs: scripts.calls === 0 ? 0 : scripts.usec / scripts.calls,
    perReservationUs: scripts.usec / calls,
    scriptCalls: scripts.calls,
    setUs: set.calls === 0 ? 0 : set.usec / set.calls,
  };
}

export default async function redisSuite(h: Harness, _floor: Floor): Promise<Record<string, number | string>> {
  if (!hasRedisServer()) throw new Error('redis-server is not installed (apt-get install -y redis-server)');
  const server = await startRedisServer({ durable: false });
  const client = new IORedis({ host: '127.0.0.1', port: server.port, enableOfflineQueue: false, lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  const admin = new IORedis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
  await admin.connect();
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
    // The floor (raw) is timed in the same shuffled rounds; ratios are taken within each round,
    // then the median over rounds.
    const series = await interleaved({ raw, memory: memoryCall, redis: redisCall, oneTrip: oneTripCall }, { rounds: 15, iterations: 500 });
    const roundTripUs = median(series.raw);
    const memoryUs = median(series.memory);
    const redisUs = median(series.redis);
    const ratio = median(series.raw.map((r, k) => (series.redis[k]! - series.memory[k]!) / r));
    const oneTripRatio = median(series.raw.map((r, k) => (series.oneTrip[k]! - series.memory[k]!) / r));
    h.note('redis: raw round trip (SET NX PX)', `${roundTripUs.toFixed(2)} µs/op`);
    h.note('redis: guarded call, memory store (baseline)', `${memoryUs.toFixed(2)} µs/op`);
    h.note('redis: guarded call, Redis store (sequential)', `${redisUs.toFixed(2)} µs/op`);
    h.note('redis: store added latency / raw round trip', `${ratio.toFixed(2)} (target <= 1.3)`);
    h.note('redis: memory store behind one round trip, added / raw round trip', oneTripRatio.toFixed(2));

    const flow = await throughputRounds({ memory: memoryCall, redis: redisCall }, { rounds: 5, total: 10_000, concurrency: 64 });
    const throughputRatio = median(flow.redis.map((r, k) => r / flow.memory[k]!));
    h.note('redis: guarded calls/s, memory store (64 in flight)', Math.round(median(flow.memory)).toLocaleString('en-US'));
    h.note('redis: guarded calls/s, Redis store (64 in flight)', Math.round(median(flow.redis)).toLocaleString('en-US'));
    h.note('redis: Redis / memory calls/s (64 in flight)', `${throughputRatio.toFixed(2)} (target >= 0.9)`);

    const single = await scriptServerTime(admin, redisCall, 5000, 1);
    const busy = await scriptServerTime(admin, redisCall, 20_000, 64);
    h.note('redis: script server time, one in flight', `${single.perScriptUs.toFixed(2)} µs/script (SET: ${single.setUs.toFixed(2)} µs)`);
    h.note(
      'redis: script server time, 64 in flight',
      `${busy.perScriptUs.toFixed(2)} µs/script, ${busy.perReservationUs.toFixed(2)} µs/reservation (${(20_000 / Math.max(1, busy.scriptCalls)).toFixed(1)} reservations/script)`,
    );
    store.close();
    return {
      redis_roundtrip_us: round(roundTripUs),
      redis_guarded_call_us: round(redisUs),
      memory_guarded_call_us: round(memoryUs),
      redis_store_vs_roundtrip: round(ratio),
      redis_one_trip_baseline_vs_roundtrip: round(oneTripRatio),
      redis_throughput_per_s: Math.round(median(flow.redis)),
      redis_vs_memory_throughput: round(throughputRatio),
      redis_script_server_us: round(single.perScriptUs),
      redis_script_server_us_per_reservation_batched: round(busy.perReservationUs),
    };
  } finally {
    admin.disconnect();
    client.disconnect();
    await server.stop();
  }
}
