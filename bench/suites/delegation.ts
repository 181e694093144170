/**
 * Delegation: a call on a cached depth-3 chain (verified once, then only the store and the
 * ancestors' argument checks), and the first call on a fresh depth-3 chain (four signatures).
 */
import { z } from 'zod';
import { createAgentKey } from '../../src/identity/agent-key.js';
import { createAuthority, createGuard, delegate, guardTool } from '../../src/index.js';
import { round, type Harness } from '../harness.js';

const AGENTS = ['planner', 'researcher', 'mailer', 'archiver'].map((a) => `spiffe://example.org/agents/${a}`);

export default async function (h: Harness): Promise<Record<string, number | string>> {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const guard = createGuard({ audience: 'bench-app', trust: { issuer: authority.issuer, jwks: authority.jwks() } });
  const send = guardTool(
    guard,
    { name: 'email.send', description: 'Send an email', input: z.object({ to: z.string(), body: z.string() }), risk: 'write' },
    () => 'ok',
  );
  const keys = await Promise.all(AGENTS.map(() => createAgentKey()));
  const chain = async (): Promise<string> => {
    let token = await authority.grant({
      agent: AGENTS[0]!,
      audience: 'bench-app',
      intent: { id: 'bench', purpose: 'benchmark' },
      tools: { 'email.send': { args: { to: { endsWith: '@example.com' } } } },
      ttl: '1h',
      confirmation: { jkt: keys[0]!.jkt },
    });
    for (let i = 1; i < AGENTS.length; i++) {
      // The leaf binds no key, so a call needs no proof signature: the figure is delegation's own.
      const bind = i < AGENTS.length - 1 ? { confirmation: { jkt: keys[i]!.jkt } } : {};
      token = await delegate(token, { to: AGENTS[i]!, tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } } } }, ...bind }, { key: keys[i - 1]! });
    }
    return token;
  };
  const args = { to: 'ops@example.com', body: 'x' };

  const cached = await chain();
  await send(args, { capability: cached });
  const CACHED = 'delegation: call on a cached depth-3 chain';
  const r = await h.rounds({ [CACHED]: () => send(args, { capability: cached }) }, { iterations: 2000, rounds: 9 });
  const cachedUs = r.us(CACHED);
  const ratio = r.ratio(CACHED);

  const iterations = 60;
  const rounds = 5;
  const warmup = 20;
  const fresh: string[] = [];
  for (let i = 0; i < warmup + iterations * rounds; i++) fresh.push(await chain());
  let next = 0;
  const firstUs = await h.time('delegation: first call on a fresh depth-3 chain', () => send(args, { capability: fresh[next++]! }), { iterations, rounds, warmup });

  h.note('delegation: cached depth-3 call / Ed25519 sign', `${ratio.toFixed(2)} (target <= 2.0)`);
  return {
    delegated_allow_vs_ed25519_sign: round(ratio),
    delegated_allow_us: round(cachedUs),
    delegated_first_call_us: round(firstUs),
  };
}
