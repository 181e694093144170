/**
 * Tripwires: what they cost an allowed call, and how fast a trip stops an agent in another process.
 *
 * - `tripwire_allow_overhead_pct`: an allowed call on a guard with every tripwire on (a canary
 *   list, a denial burst, wrong audience and identity, the call rate with a floor this benchmark
 *   never reaches) against the same call on a guard without tripwires, same capability, same
 *   rounds (CPU time), as a percentage; median over rounds.
 * - `trip_to_refusal_ms`: two guard processes on one loopback redis-server (durable off). Worker A
 *   is sent the denial that completes a burst; the moment A answers, worker B is sent the agent's
 *   next call. The figure runs from sending A's call to B's refusal (`capability_revoked`), both
 *   IPC hops included; p50 and p99 over the trials, each with a fresh agent.
 */
import { z } from 'zod';
import { createAuthority, createGuard, createMemoryStore, guardTool, type TripwireOptions } from '../../src/index.js';
import { hasRedisServer, startRedisServer } from '../../test/support/redis-server.js';
import { startTripwireWorker } from '../../test/guard/tripwire-workers.js';
import { median, round, type Floor, type Harness } from '../harness.js';

const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'bench-app';
const AGENT = 'spiffe://example.org/agents/bench';
const THRESHOLD = 5;
const TRIALS = 300;

async function allowedCall(authority: Awaited<ReturnType<typeof createAuthority>>, tripwires: TripwireOptions | undefined) {
  const guard = createGuard({
    audience: AUDIENCE,
    trust: { issuer: ISSUER, jwks: authority.jwks() },
    store: createMemoryStore(),
    ...(tripwires === undefined ? {} : { tripwires }),
  });
  const read = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' }, async (a) => a.ticketId);
  const capability = await authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'bench', purpose: 'Benchmark' }, tools: { 'tickets.read': {} }, ttl: '1h' });
  const args = { ticketId: '4711' };
  return () => read(args, { capability });
}

const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

export default async function tripwiresSuite(h: Harness, _floor: Floor): Promise<Record<string, number | string>> {
  const authority = await createAuthority({ issuer: ISSUER });
  const on = await allowedCall(authority, {
    canaryTools: ['admin.export_all'],
    denialBurst: { threshold: THRESHOLD },
    foreignAudience: true,
    identityMismatch: true,
    callRate: { minPerMinute: 10_000_000 },
  });
  const off = await allowedCall(authority, undefined);
  const r = await h.rounds({ 'tripwires: allowed call, tripwires on': on, 'tripwires: allowed call, tripwires off': off }, { iterations: 2000, rounds: 15 });
  const onSeries = r.series['tripwires: allowed call, tripwires on']!;
  const offSeries = r.series['tripwires: allowed call, tripwires off']!;
  const pct = median(onSeries.map((x, k) => ((x - offSeries[k]!) / offSeries[k]!) * 100));
  h.note('tripwires: allowed-call overhead, on vs off (same rounds)', `${pct.toFixed(2)} % (target <= 5)`);
  const figures: Record<string, number | string> = {
    tripwire_allow_overhead_pct: round(pct, 2),
    tripwire_allow_on_us: round(median(onSeries)),
    tripwire_allow_off_us: round(median(offSeries)),
  };

  if (!hasRedisServer()) {
    h.note('tripwires: trip_to_refusal_ms', 'skipped: redis-server is not installed (apt-get install -y redis-server)');
    return figures;
  }
  const server = await startRedisServer({ durable: false });
  const init = { port: server.port, prefix: 'benchtrip:', issuer: ISSUER, audience: AUDIENCE, jwks: authority.jwks(), threshold: THRESHOLD };
  const [a, b] = await Promise.all([startTripwireWorker({ ...init, kind: 'ioredis' }), startTripwireWorker({ ...init, kind: 'node-redis' })]);
  try {
    const latencies: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const capability = await authority.grant({
        agent: `${AGENT}-${trial}`,
        audience: AUDIENCE,
        intent: { id: 'bench', purpose: 'Benchmark' },
        tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } } },
        ttl: '10m',
      });
      if ((await b.call(capability, '4711')).outcome !== 'allowed') throw new Error('the agent was refused before its burst');
      for (let i = 0; i < THRESHOLD - 1; i++) await a.call(capability, `probe-${i}`);
      const sent = performance.timeOrigin + performance.now();
      const tripped = await a.call(capability, 'probe-last');
      const next = await b.call(capability, '4711');
      if (tripped.outcome !== 'arguments_out_of_scope' || next.outcome !== 'capability_revoked') {
        throw new Error(`trial ${trial}: expected arguments_out_of_scope then capability_revoked, got ${tripped.outcome} then ${next.outcome}`);
      }
      latencies.push(next.endedAt - sent);
    }
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    h.note('tripwires: trip to refusal in another process (wall, IPC included)', `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms over ${TRIALS} trials (target p99 <= 50)`);
    figures.trip_to_refusal_ms = round(p99, 2);
    figures.trip_to_refusal_p50_ms = round(p50, 2);
  } finally {
    a.stop();
    b.stop();
    await server.stop();
  }
  return figures;
}
