/**
 * The core guard: a guarded allowed call on a cached capability, a denied call, the first call
 * with a new capability, and 64 calls in flight — each against a bare call and the crypto floor.
 */
import { z } from 'zod';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { round, type BenchSuite } from '../harness.js';

const suite: BenchSuite = async (h) => {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const guard = createGuard({ audience: 'bench', trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() } });
  const input = z.object({ ticketId: z.string(), note: z.string().optional() });
  const impl = async (args: { ticketId: string }) => args.ticketId;
  const read = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input, risk: 'read' }, impl);
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

  // The floors are timed in the same shuffled rounds as the guarded calls (see the harness).
  const ALLOWED = 'core: guarded call, allowed (cached capability)';
  const DENIED = 'core: guarded call, denied (arguments out of scope)';
  const BARE = 'core: bare tool call';
  const r = await h.rounds(
    {
      [BARE]: () => impl(args),
      [ALLOWED]: () => read(args, options),
      [DENIED]: () => read(denied, options).catch(() => undefined),
    },
    { iterations: 3000, rounds: 9 },
  );
  const bare = r.us(BARE);
  const allowed = r.us(ALLOWED);
  const deniedUs = r.us(DENIED);
  const allowRatio = r.ratio(ALLOWED, { minus: BARE });
  const denyRatio = r.ratio(DENIED, { minus: BARE });

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
