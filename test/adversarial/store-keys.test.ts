/**
 * Store keys no holder can choose. A delegated child's `jti` is picked by the agent that signs
 * it; it must never name a counter or a revocation of another capability. A child's id is
 * derived from the chain (the root's authority-chosen id, then a digest of the link), and that
 * id is the one spans, denials and `revokeCapability` use.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, test } from 'vitest';
import { delegatedCapabilityId } from '../../src/capability/delegation-chain.js';
import type { VerifiedCapability } from '../../src/capability/verify.js';
import { counterKey, proofMarkerKey, revocationChecks, withAncestorCounters } from '../../src/guard/reservation.js';
import type { AgentKey } from '../../src/identity/agent-key.js';
import { ToolDeniedError } from '../../src/index.js';
import { MAILER, setupChain, unpack } from '../delegation/chain-fixtures.js';
import { AUDIENCE } from '../support/fixtures.js';

const VICTIM = 'spiffe://example.org/agents/victim';

/** Signs a child of `parent` exactly as delegate() would, with a jti of the attacker's choosing. */
async function childWithJti(parent: string, key: AgentKey, jti: string, tools: Record<string, unknown> = { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 } }): Promise<string> {
  const p = unpack(parent).payload;
  const claims: Record<string, unknown> = {
    iss: p.sub,
    sub: MAILER,
    aud: p.aud,
    iat: p.iat,
    iat_ms: p.iat_ms,
    nbf: p.nbf,
    exp: p.exp,
    jti,
    intent: p.intent,
    tools,
    act: { sub: p.sub },
    prt: parent,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.signingKey.alg, typ: 'tessera-cap+jwt', jwk: key.publicJwk })
    .sign(key.signingKey.privateKey);
}

async function world() {
  const s = await setupChain();
  // An unrelated capability: another agent's root grant, with a budget of 2 sends.
  const victim = await s.authority.grant({
    agent: VICTIM,
    audience: AUDIENCE,
    intent: { id: 'victim-task', purpose: 'Unrelated work' },
    tools: { 'email.send': { maxCalls: 2 } },
    ttl: '10m',
  });
  const victimJti = unpack(victim).payload.jti as string;
  const attackerRoot = await s.root();
  const send = (capability: string) =>
    s.guard.withCapability(capability, () => s.sendEmail({ to: 'ops@example.com', body: 'x' })).then(
      () => 'allowed',
      (e: unknown) => (e instanceof ToolDeniedError ? e.code : e),
    );
  return { ...s, victim, victimJti, attackerRoot, send };
}

/** The per-capability keys a call under `cap` may read or write (agent and intent keys are shared by design). */
function ownKeys(cap: VerifiedCapability, tools: readonly string[]): Set<string> {
  const keys = new Set<string>();
  for (const c of revocationChecks(cap)) if (c.key.startsWith('cap:')) keys.add(c.key);
  for (const tool of tools) {
    const r = withAncestorCounters({ revocations: [], counters: [{ key: counterKey(cap.id, tool), limit: 1, ttlMs: 1 }], once: [], credentials: [] }, cap, tool, 0, 0);
    for (const c of r.counters) keys.add(c.key);
  }
  keys.add(proofMarkerKey(cap.id, 'proof-jti-0000000000'));
  return keys;
}

describe('store keys a holder cannot choose', () => {
  test("a child whose jti is another capability's id spends its own budget, not the other's", async () => {
    const w = await world();
    const forged = await childWithJti(w.attackerRoot, w.keys.planner, w.victimJti);
    expect(await w.send(forged)).toBe('allowed');
    expect(await w.send(forged)).toBe('call_limit_exceeded');
    // The victim still has both of its calls.
    expect(await w.send(w.victim)).toBe('allowed');
    expect(await w.send(w.victim)).toBe('allowed');
    expect(await w.send(w.victim)).toBe('call_limit_exceeded');
  });

  test("revoking the forged child's id leaves the capability whose jti it copied untouched", async () => {
    const w = await world();
    const forged = await childWithJti(w.attackerRoot, w.keys.planner, w.victimJti);
    const child = await w.guard.inspect(forged);
    expect(child.id).not.toBe(w.victimJti);
    await w.guard.revokeCapability(child.id);
    expect(await w.send(forged)).toBe('capability_revoked');
    expect(await w.send(w.victim)).toBe('allowed');
  });

  test("revoking a child's own jti revokes nothing: the id to revoke is the derived one", async () => {
    const w = await world();
    const jti = randomBytes(16).toString('base64url');
    const forged = await childWithJti(w.attackerRoot, w.keys.planner, jti);
    await w.guard.revokeCapability(jti);
    expect(await w.send(forged)).toBe('allowed');
  });

  test('a jti equal to a derived id is refused: the jti alphabet has no "."', async () => {
    const w = await world();
    const sibling = await childWithJti(w.attackerRoot, w.keys.planner, randomBytes(16).toString('base64url'));
    const derived = (await w.guard.inspect(sibling)).id;
    expect(derived).toBe(delegatedCapabilityId(unpack(w.attackerRoot).payload.jti as string, sibling));
    const forged = await childWithJti(w.attackerRoot, w.keys.planner, derived);
    expect(await w.send(forged)).toBe('delegation_invalid');
  });

  test.each([':', '/', '{', '}', ' ', '*', '.'])('a jti with the separator %j is refused', async (sep) => {
    const w = await world();
    const forged = await childWithJti(w.attackerRoot, w.keys.planner, `${w.victimJti}${sep}email.send`);
    expect(await w.send(forged)).toBe('delegation_invalid');
  });

  test('the denial, the span id and revokeCapability all use the derived id', async () => {
    const w = await world();
    const forged = await childWithJti(w.attackerRoot, w.keys.planner, w.victimJti);
    const child = await w.guard.inspect(forged);
    await w.send(forged);
    const denial = await w.guard.withCapability(forged, () => w.sendEmail({ to: 'ops@example.com', body: 'x' })).catch((e: unknown) => e as ToolDeniedError);
    expect(denial).toMatchObject({ code: 'call_limit_exceeded', capabilityId: child.id });
    expect(child.id.startsWith(`${unpack(w.attackerRoot).payload.jti as string}.`)).toBe(true);
  });

  test('two children signed with the same jti are two capabilities: separate own budgets, one shared ancestor budget', async () => {
    const w = await world();
    const jti = randomBytes(16).toString('base64url');
    const a = await childWithJti(w.attackerRoot, w.keys.planner, jti, { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } });
    const b = await childWithJti(w.attackerRoot, w.keys.planner, jti, { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 } });
    expect((await w.guard.inspect(a)).id).not.toBe((await w.guard.inspect(b)).id);
    // The root allows 3 sends in all: a twice, b once, then the root's budget is spent.
    expect([await w.send(a), await w.send(a), await w.send(b), await w.send(a)]).toEqual(['allowed', 'allowed', 'allowed', 'call_limit_exceeded']);
  });

  test('unrelated capabilities never share a key, whatever jtis their children claim', async () => {
    const w = await world();
    const victim = await w.guard.inspect(w.victim);
    const attackerRootJti = unpack(w.attackerRoot).payload.jti as string;
    const sibling = await childWithJti(w.attackerRoot, w.keys.planner, randomBytes(16).toString('base64url'));
    const siblingId = (await w.guard.inspect(sibling)).id;
    const crafted = [w.victimJti, `${w.victimJti.slice(0, 10)}-email`, 'email_send-tickets', randomBytes(16).toString('base64url')];
    const attackerCaps: VerifiedCapability[] = [await w.guard.inspect(w.attackerRoot)];
    for (const jti of crafted) attackerCaps.push(await w.guard.inspect(await childWithJti(w.attackerRoot, w.keys.planner, jti)));
    // A tool name full of separators cannot reach into another capability's counter either.
    const tools = ['email.send', `${w.victimJti}:email.send`, 'a:b/c.d-e_f'];
    const victimKeys = ownKeys(victim, tools);
    for (const cap of attackerCaps) {
      const keys = ownKeys(cap, tools);
      for (const k of keys) expect(victimKeys.has(k), k).toBe(false);
      // Every per-capability key of the attacker's subtree names the attacker's root first.
      for (const k of keys) expect(k.split(':')[1]!.split('.')[0]).toBe(attackerRootJti);
    }
    // Children under one root get distinct ids too.
    const ids = new Set(attackerCaps.map((c) => c.id).concat(siblingId));
    expect(ids.size).toBe(attackerCaps.length + 1);
  });
});
