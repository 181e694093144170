/**
 * The core guard: a guarded allowed call on a cached capability, a denied call, the first call
 * with a new capability, and 64 calls in flight — each against a bare call and the crypto floor.
 */
import { z } from 'zod';
import { createAuthority, createGuard } from '../../src/index.js';
import { generateKeyPairSync, sign } from 'node:crypto';
import { perRoundMedian, round, type BenchSuite } from '../harness.js';

const suite: BenchSuite = async (h) => {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const guard = createGuard({ audience: 'bench', trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() } });
  const input = z.object({ ticketId: z.string(), note: z.string().optional() });
  const impl = async (args: { ticketId: string }) => args.ticketId;
  const read = guard.tool({ name: 'tickets.read', description: 'Read a ticket', input, risk: 'read' }, impl);
  const grant = () =>
    authority.grant({
      agent: 'spiffe://example.org/agents/bench',
      audience: 'bench',
      intent: { id: 'bench', purpose: 'Benchmark' },
      tools: { 'tickets.read': { args: { ticketId: { startsWith: '47' } } }, 'email.send': { maxCalls: 1 } },
    });
  const cap = await grant();
  const options = { capability: cap };
  const args = { ticketId: '4711' };
  const denied = { ticketId: '9999' };

  // The floor (one Ed25519 signature) is timed in the same rounds as the guarded calls, so that
  // load from other processes weighs on both alike.
  const { privateKey } = generateKeyPairSync('ed25519');
  const data = Buffer.from('a'.repeat(300));
  const series = await h.interleaved(
    {
      'core: Ed25519 sign (floor, same rounds)': () => sign(null, data, privateKey),
      'core: bare tool call': () => impl(args),
      'core: guarded call, allowed (cached capability)': () => read(args, options),
      'core: guarded call, denied (arguments out of scope)': () => read(denied, options).catch(() => undefined),
    },
    { iterations: 3000, rounds: 9 },
  );
  const at = (n: string) => perRoundMedian(series, (v) => v(n));
  const bare = at('core: bare tool call');
  const allowed = at('core: guarded call, allowed (cached capability)');
  const deniedUs = at('core: guarded call, denied (arguments out of scope)');
  const allowRatio = perRoundMedian(series, (v) => (v('core: guarded call, allowed (cached capability)') - v('core: bare tool call')) / v('core: Ed25519 sign (floor, same rounds)'));
  const denyRatio = perRoundMedian(series, (v) => (v('core: guarded call, denied (arguments out of scope)') - v('core: bare tool call')) / v('core: Ed25519 sign (floor, same rounds)'));

  // The first call with a capability pays for its verification (jose, WebCrypto) once.
  const fresh = await Promise.all(Array.from({ length: 3500 }, grant));
  let i = 0;
  const first = await h.time('core: first call with a new capability', () => read(args, { capability: fresh[i++]! }), {
    iterations: 500,
    rounds: 5,
    warmup: 500,
  });
  const throughput = await h.throughput('core: guarded allowed calls, 64 in flight', () => read(args, options), {
    concurrency: 64,
    total: 20_000,
  });

  const allowOverhead = allowed - bare;
  const denyOverhead = deniedUs - bare;
  h.note('core: allow overhead / Ed25519 sign', `${allowRatio.toFixed(2)} (target <= 1.5)`);
  h.note('core: deny overhead / Ed25519 sign', `${denyRatio.toFixed(2)} (target <= 0.25)`);
  return {
    allow_overhead_us: round(allowOverhead),
    deny_overhead_us: round(denyOverhead),
    first_call_overhead_us: round(first - bare),
    throughput_per_s: Math.round(throughput),
    allow_vs_ed25519_sign: round(allowRatio),
    deny_vs_ed25519_sign: round(denyRatio),
  };
};

export default suite;
