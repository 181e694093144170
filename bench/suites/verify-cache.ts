/**
 * The verify cache at scale: 100,000 live capabilities called round-robin (every call a cache
 * hit only if all of them fit the default memory budget), and the first call with a new
 * capability, both against an Ed25519 signature timed in the same shuffled rounds. The span
 * pipeline is real: an OpenTelemetry tracer provider with an in-memory exporter is registered.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { median, round, type BenchSuite } from '../harness.js';

const LIVE = 100_000;

const suite: BenchSuite = async (h) => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  const tracer = provider.getTracer('bench');
  const authority = await createAuthority({ issuer: 'https://authz.example.com', maxTtl: '1h' });
  const guard = createGuard({ audience: 'bench', trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() }, telemetry: { tracer } });
  const read = guardTool(
    guard,
    { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    async (args) => args.ticketId,
  );
  const grant = (i: number) =>
    authority.grant({
      agent: `spiffe://example.org/agents/bench-${i % 100}`,
      audience: 'bench',
      intent: { id: `ticket-${i}`, purpose: 'Benchmark' },
      tools: { 'tickets.read': { args: { ticketId: { startsWith: '47' } } }, 'email.send': { maxCalls: 1 } },
      ttl: '1h',
    });
  const live: string[] = [];
  for (let i = 0; i < LIVE; i++) live.push(await grant(i));
  const fresh: string[] = [];
  for (let i = 0; i < 6000; i++) fresh.push(await grant(LIVE + i));
  const args = { ticketId: '4711' };
  // One pass over every live capability fills the cache (each pays its first call once).
  for (const cap of live) await read(args, { capability: cap });
  exporter.reset();

  const { privateKey } = generateKeyPairSync('ed25519');
  const data = Buffer.from('a'.repeat(300));
  let next = 0;
  let nextFresh = 0;
  const entries: Record<string, () => unknown> = {
    'verify-cache: Ed25519 sign (floor, same rounds)': () => sign(null, data, privateKey),
    'verify-cache: guarded call, 100k live capabilities round-robin': () => read(args, { capability: live[next++ % LIVE]! }),
    'verify-cache: first call with a new capability': () => read(args, { capability: fresh[nextFresh++]! }),
  };
  // Shuffled rounds: each round times every entry, in a random order, so load from other
  // processes weighs on all alike.
  const names = Object.keys(entries);
  const per: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const iterations = { live: 4000, fresh: 500, floor: 2000 };
  const count = (n: string) => (n.includes('first call') ? iterations.fresh : n.includes('round-robin') ? iterations.live : iterations.floor);
  const rounds = 9;
  const ratioLive: number[] = [];
  const ratioFirst: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = [...names].sort(() => Math.random() - 0.5);
    const us: Record<string, number> = {};
    for (const n of order) {
      const fn = entries[n]!;
      const k = count(n);
      const t0 = performance.now();
      for (let i = 0; i < k; i++) {
        const v = fn();
        if (v instanceof Promise) await v;
      }
      us[n] = ((performance.now() - t0) * 1000) / k;
      per[n]!.push(us[n]!);
    }
    exporter.reset();
    ratioLive.push(us[names[1]!]! / us[names[0]!]!);
    ratioFirst.push(us[names[2]!]! / us[names[0]!]!);
  }
  for (const n of names) h.note(n, `${median(per[n]!).toFixed(2)} µs/op`);
  const live100k = median(ratioLive);
  const first = median(ratioFirst);
  h.note('verify-cache: 100k live / Ed25519 sign', `${live100k.toFixed(2)} (target <= 2.0)`);
  h.note('verify-cache: first call / Ed25519 sign', `${first.toFixed(2)} (target <= 10)`);
  await provider.shutdown();
  return { live_100k_vs_ed25519_sign: round(live100k), first_call_vs_ed25519_sign: round(first) };
};

export default suite;
