/**
 * Guarded calls per second in one process, 64 in flight, with the call credential signed on the
 * main thread and on libuv's thread pool, beside the raw Ed25519 sign rate of the same run. The
 * three are measured in alternating rounds, so that load from other processes weighs on all
 * alike; each figure is the median over rounds.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { median, round, type BenchSuite } from '../harness.js';

const ISSUER = 'https://authz.example.com';
const CONCURRENCY = 64;
const CALLS = 20_000;
const ROUNDS = 5;

const suite: BenchSuite = async (h) => {
  const authority = await createAuthority({ issuer: ISSUER });
  const trust = { issuer: ISSUER, jwks: authority.jwks() };
  const input = z.object({ ticketId: z.string() });
  const tool = { name: 'tickets.read', description: 'Read a ticket', input, risk: 'read' as const };
  const impl = async (args: { ticketId: string }) => args.ticketId;
  const main = guardTool(createGuard({ audience: 'bench', trust }), tool, impl);
  const threadpool = guardTool(createGuard({ audience: 'bench', trust, credentials: { signIn: 'threadpool' } }), tool, impl);
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/bench',
    audience: 'bench',
    intent: { id: 'bench', purpose: 'Benchmark' },
    tools: { 'tickets.read': { args: { ticketId: { startsWith: '47' } } } },
    ttl: '1h',
  });
  const options = { capability };
  const args = { ticketId: '4711' };

  const perSecond = async (call: () => Promise<unknown>): Promise<number> => {
    let started = 0;
    const t0 = performance.now();
    const worker = async (): Promise<void> => {
      while (started < CALLS) {
        started++;
        await call();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return CALLS / ((performance.now() - t0) / 1000);
  };
  const { privateKey } = generateKeyPairSync('ed25519');
  // About the size of a call credential's signing input.
  const data = Buffer.from('a'.repeat(420));
  const rawSign = (): number => {
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) sign(null, data, privateKey);
    return CALLS / ((performance.now() - t0) / 1000);
  };

  const mainRates: number[] = [];
  const poolRates: number[] = [];
  const signRates: number[] = [];
  const ratios: number[] = [];
  // The first round warms up and is not counted.
  for (let r = 0; r <= ROUNDS; r++) {
    const m = await perSecond(() => main(args, options));
    const p = await perSecond(() => threadpool(args, options));
    const s = rawSign();
    if (r === 0) continue;
    mainRates.push(m);
    poolRates.push(p);
    signRates.push(s);
    ratios.push(p / m);
  }
  const mainPerS = median(mainRates);
  const poolPerS = median(poolRates);
  const signPerS = median(signRates);
  const ratio = median(ratios);
  const fmt = (x: number) => `${Math.round(x).toLocaleString('en-US')} calls/s`;
  h.note(`throughput: guarded calls, ${CONCURRENCY} in flight, signIn 'main'`, fmt(mainPerS));
  h.note(`throughput: guarded calls, ${CONCURRENCY} in flight, signIn 'threadpool'`, fmt(poolPerS));
  h.note('throughput: raw Ed25519 sign (sync, same rounds)', `${Math.round(signPerS).toLocaleString('en-US')} signs/s`);
  h.note("throughput: 'threadpool' / 'main' (median of per-round ratios)", `${ratio.toFixed(2)} (target >= 1.6)`);
  return {
    throughput_main_per_s: Math.round(mainPerS),
    throughput_threadpool_per_s: Math.round(poolPerS),
    throughput_raw_sign_per_s: Math.round(signPerS),
    throughput_threadpool_vs_main: round(ratio),
  };
};

export default suite;
