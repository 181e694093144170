/**
 * Attacks on delegation chains. Each forges or splices tokens by hand (delegate() itself refuses
 * to make them) and pins exactly one outcome: the code and the reason, with the tool body never run.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, test } from 'vitest';
import type { AgentKey } from '../../src/identity/agent-key.js';
import { createGuard, ToolDeniedError } from '../../src/index.js';
import { ARCHIVER, MAILER, PLANNER, RESEARCHER, setupChain, unpack } from '../delegation/chain-fixtures.js';
import { AUDIENCE } from '../support/fixtures.js';

/** Signs a child of `parent` as delegate() would, minus every check, with `overrides` applied. */
async function forge(
  parent: string,
  key: AgentKey,
  overrides: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const p = unpack(parent).payload;
  const claims: Record<string, unknown> = {
    iss: p.sub,
    sub: MAILER,
    aud: p.aud,
    iat: p.iat,
    nbf: p.nbf,
    exp: p.exp,
    jti: randomBytes(16).toString('base64url'),
    intent: p.intent,
    tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } },
    act: p.act === undefined ? { sub: p.sub } : { sub: p.sub, act: p.act },
    prt: parent,
    ...overrides,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.signingKey.alg, typ: 'tessera-cap+jwt', jwk: key.publicJwk, ...header })
    .sign(key.signingKey.privateKey);
}

async function attack(token: string, overrides: Parameters<typeof setupChain>[0] = {}, env?: Awaited<ReturnType<typeof setupChain>>) {
  const s = env ?? (await setupChain(overrides));
  const outcome = await s.guard
    .withCapability(token, () => s.sendEmail({ to: 'ops@example.com', body: 'x' }))
    .then(() => 'ALLOWED' as const, (e: unknown) => e);
  expect(s.ran).toEqual([]);
  expect(outcome).toBeInstanceOf(ToolDeniedError);
  return outcome as ToolDeniedError;
}

describe('delegation attacks', () => {
  test('a child that adds a tool its parent lacks', async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const t = await forge(toResearcher, s.keys.researcher, { tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 }, 'tickets.delete': {} } });
    expect(await attack(t, {}, s)).toMatchObject({ code: 'delegation_invalid', reason: 'link 2 adds tool "tickets.delete", which its parent does not grant' });
  });

  test('a child that loosens an argument constraint', async () => {
    const s = await setupChain();
    const r = await s.root();
    const toResearcher = await s.child(r, s.keys.planner, {
      to: RESEARCHER,
      tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } },
      confirmation: { jkt: s.keys.researcher.jkt },
    });
    const t = await forge(toResearcher, s.keys.researcher, { tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 } } });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: "link 2 widens email.send.to: endsWith '@example.com' is not within eq 'ops@example.com'",
    });
  });

  test('a child that drops a constraint altogether', async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const t = await forge(toResearcher, s.keys.researcher, { tools: { 'email.send': { maxCalls: 1 } } });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: "link 2 widens email.send.to: no constraint is not within endsWith '@example.com'",
    });
  });

  test('a child that extends its expiry past the parent', async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const t = await forge(toResearcher, s.keys.researcher, { exp: (unpack(toResearcher).payload.exp as number) + 60 });
    expect(await attack(t, {}, s)).toMatchObject({ code: 'delegation_invalid', reason: "link 2 extends expiry 60s beyond its parent's" });
  });

  test('a child that raises maxCalls', async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const t = await forge(toResearcher, s.keys.researcher, { tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 10 } } });
    expect(await attack(t, {}, s)).toMatchObject({ code: 'delegation_invalid', reason: 'link 2 raises email.send maxCalls from 2 to 10' });
  });

  test('a child that drops maxCalls', async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const t = await forge(toResearcher, s.keys.researcher, { tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } } } } });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: 'link 2 drops email.send maxCalls (the parent allows 2; set maxCalls to at most that)',
    });
  });

  test('a child that changes the audience away from its parent', async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const t = await forge(toResearcher, s.keys.researcher, { aud: 'billing-app' });
    expect(await attack(t, {}, s)).toMatchObject({ code: 'delegation_invalid', reason: 'link 2 changes the audience from "support-app" to "billing-app"' });
  });

  test("a child re-targeted at this guard from a root granted for another deployment (outermost audience alone is not enough)", async () => {
    const s = await setupChain();
    const billingRoot = await s.authority.grant({
      agent: PLANNER,
      audience: 'billing-app',
      intent: { id: 'ticket-4711', purpose: 'p' },
      tools: { 'email.send': {} },
      confirmation: { jkt: s.keys.planner.jkt },
    });
    const t = await forge(billingRoot, s.keys.planner, { aud: AUDIENCE, tools: { 'email.send': {} } });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: 'link 0 (the root grant): the capability was granted for another audience ("billing-app") than this guard\'s ("support-app"); ask the authority for a grant with audience "support-app"',
    });
  });

  test('a child that changes the intent (and would escape intent revocation)', async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const t = await forge(toResearcher, s.keys.researcher, { intent: { id: 'ticket-9999', purpose: 'other' } });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: 'link 2 changes the intent from "ticket-4711" to "ticket-9999"; a delegation serves its parent\'s intent',
    });
  });

  test('a link that skips its parent: the researcher delegates straight from the root grant', async () => {
    const s = await setupChain();
    const r = await s.root();
    const t = await forge(r, s.keys.researcher, { iss: RESEARCHER, act: { sub: RESEARCHER, act: { sub: PLANNER } } });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: "link 1 is signed by a key other than the one its parent binds (cnf.jkt); each link's signer must be the previous link's key holder",
    });
  });

  test("a link whose issuer is not its parent's subject", async () => {
    const s = await setupChain();
    const r = await s.root();
    const t = await forge(r, s.keys.planner, { iss: RESEARCHER });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: `link 1 is issued by "${RESEARCHER}" but its parent was granted to "${PLANNER}": each link's issuer must be the previous link's subject`,
    });
  });

  test('a link swapped in from another chain breaks the signature over the embedded parent', async () => {
    const s = await setupChain();
    const a = await s.chain();
    const b = await s.chain();
    const spliced = unpack(a.toMailer);
    const [h] = a.toMailer.split('.');
    const payload = Buffer.from(JSON.stringify({ ...spliced.payload, prt: b.toResearcher })).toString('base64url');
    const t = `${h}.${payload}.${spliced.signature}`;
    expect(await attack(t, {}, s)).toMatchObject({ code: 'delegation_invalid', reason: "link 2: the capability's signature does not verify" });
  });

  test("a child signed with a key other than the one in the parent's cnf", async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const t = await forge(toResearcher, s.keys.mailer, {});
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: "link 2 is signed by a key other than the one its parent binds (cnf.jkt); each link's signer must be the previous link's key holder",
    });
  });

  test('an agent-signed child of a parent that binds no key', async () => {
    const s = await setupChain();
    const r = await s.root();
    const keyless = await s.child(r, s.keys.planner, { to: RESEARCHER, tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } } });
    const t = await forge(keyless, s.keys.researcher, {});
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: 'link 2 is signed by an agent key, but its parent binds no key (cnf); only the authority can delegate it (token exchange)',
    });
  });

  test("a child whose embedded key carries a private part is refused even when its thumbprint matches", async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const priv = s.keys.researcher.signingKey.privateKey.export({ format: 'jwk' });
    const t = await forge(toResearcher, s.keys.researcher, {}, { jwk: { ...s.keys.researcher.publicJwk, d: priv.d } });
    expect(await attack(t, {}, s)).toMatchObject({ code: 'delegation_invalid', reason: "link 2's header jwk must be a public key" });
  });

  test('a child that points at a key URL (jku)', async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const t = await forge(toResearcher, s.keys.researcher, {}, { jku: 'https://attacker.example/jwks.json' });
    expect(await attack(t, {}, s)).toMatchObject({ code: 'delegation_invalid', reason: `link 2's header carries "jku"; keys are never fetched from a token` });
  });

  test('a chain deeper than the guard accepts', async () => {
    const s = await setupChain({ maxDelegationDepth: 2 });
    const { toMailer } = await s.chain();
    const t = await s.child(toMailer, s.keys.mailer, { to: ARCHIVER, tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } } });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: 'the delegation chain is deeper than this verifier accepts (at most 2 delegations below the root grant)',
    });
  });

  test('a chain that forms a cycle back to the planner', async () => {
    const s = await setupChain();
    const { toMailer } = await s.chain();
    const t = await forge(toMailer, s.keys.mailer, { sub: PLANNER });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: `link 3 delegates to "${PLANNER}", who already holds a link of this chain (cycle)`,
    });
  });

  test('a child whose act does not name its delegating agent', async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const t = await forge(toResearcher, s.keys.researcher, { act: { sub: RESEARCHER } });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: `link 2 does not name its parent's subject "${RESEARCHER}" (and that link's actors) as the delegating actor (act)`,
    });
  });

  test('a token that claims an actor but embeds no parent', async () => {
    const s = await setupChain();
    const r = unpack(await s.root()).payload;
    const t = await forge(await s.root(), s.keys.planner, { ...r, prt: undefined, act: { sub: 'spiffe://example.org/agents/boss' } });
    expect(await attack(t, {}, s)).toMatchObject({
      code: 'delegation_invalid',
      reason: 'link 0 names a delegating actor (act) but embeds no parent (prt); the chain must reach back to a root grant',
    });
  });

  test('a child signed with HS256 using the public key as the secret', async () => {
    const s = await setupChain();
    const { toResearcher } = await s.chain();
    const p = unpack(toResearcher).payload as { iat: number; nbf: number; exp: number; intent: unknown };
    const t = await new SignJWT({ iss: RESEARCHER, sub: MAILER, aud: AUDIENCE, iat: p.iat, nbf: p.nbf, exp: p.exp, jti: randomBytes(16).toString('base64url'), intent: p.intent, tools: { 'email.send': { maxCalls: 1 } }, act: { sub: RESEARCHER, act: { sub: PLANNER } }, prt: toResearcher })
      .setProtectedHeader({ alg: 'HS256', typ: 'tessera-cap+jwt', jwk: s.keys.researcher.publicJwk })
      .sign(Buffer.from(JSON.stringify(s.keys.researcher.publicJwk)));
    expect(await attack(t, {}, s)).toMatchObject({ code: 'delegation_invalid', reason: 'link 2 is signed with an algorithm delegations may not use' });
  });

  test('a chain whose root is not signed by a trusted authority', async () => {
    const s = await setupChain();
    const { toMailer } = await s.chain();
    const stranger = createGuard({ audience: AUDIENCE, trust: { issuer: 'https://other.example.com', jwks: { keys: [] } }, clock: s.clock });
    const outcome = await stranger.inspect(toMailer).then(() => 'ALLOWED', (e: unknown) => e);
    expect(outcome).toMatchObject({ code: 'delegation_invalid', reason: 'link 0 (the root grant): the capability was issued by an untrusted issuer "https://authz.example.com"; this guard trusts "https://other.example.com"' });
  });

  test('an expired link in the chain is capability_expired, naming the link', async () => {
    const s = await setupChain();
    const { toMailer } = await s.chain();
    s.clock.advance(6 * 60_000); // the researcher's 5-minute link (and the mailer's below it) have ended
    expect(await attack(toMailer, {}, s)).toMatchObject({
      code: 'capability_expired',
      reason: 'link 1 of the delegation chain has expired; ask for a new delegation',
    });
  });

  test("a revoked grandparent stops the grandchild's next call", async () => {
    const s = await setupChain();
    const { root, toResearcher } = await s.chain();
    const grandchild = await s.child(toResearcher, s.keys.researcher, { to: MAILER, tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 2 } } });
    const send = () => s.guard.withCapability(grandchild, () => s.sendEmail({ to: 'ops@example.com', body: 'x' }));
    await expect(send()).resolves.toEqual({ ok: true }); // verified and cached before the revocation
    await s.guard.revokeCapability(unpack(root).payload.jti as string);
    const outcome = await send().then(() => 'ALLOWED', (e: unknown) => e);
    expect(outcome).toMatchObject({ code: 'capability_revoked', reason: 'the capability was revoked (cap revocation); ask the authority for a new grant' });
    expect(s.ran).toEqual(['email.send:ops@example.com']);
  });

  test('revoking the planner stops a child it derives after the revocation from its older grant', async () => {
    const s = await setupChain();
    const r = await s.root();
    await s.guard.revokeAgent(PLANNER);
    s.clock.advance(5_000);
    const late = await s.child(r, s.keys.planner, { to: MAILER, tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } } });
    expect(await attack(late, {}, s)).toMatchObject({ code: 'capability_revoked', reason: 'the capability was revoked (agent revocation); ask the authority for a new grant' });
  });
});

describe('budgets along a chain outlive its children', () => {
  test("a short-lived child's calls keep counting against its parent's budget after the child expires", async () => {
    const s = await setupChain();
    const root = await s.root({ 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } }, '10m');
    const child = await s.child(root, s.keys.planner, {
      to: RESEARCHER,
      tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } },
      ttl: '1m',
    });
    for (let i = 0; i < 2; i++) await s.guard.withCapability(child, () => s.sendEmail({ to: 'a@example.com', body: 'x' }));
    s.ran.length = 0;
    // The child is long gone; the root is still valid but its budget of 2 is already spent.
    s.clock.advance(3 * 60_000);
    const outcome = await s.guard
      .withCapability({ capability: root, prover: s.keys.planner }, () => s.sendEmail({ to: 'a@example.com', body: 'x' }))
      .then(() => 'ALLOWED' as const, (e: unknown) => e);
    expect(s.ran).toEqual([]);
    expect(outcome).toBeInstanceOf(ToolDeniedError);
    expect(outcome).toMatchObject({ code: 'call_limit_exceeded' });
  });
  test('a call budget is still spent while the clock skew the guard allows keeps an expired child usable', async () => {
    const s = await setupChain({ clockSkewSec: 300 });
    const root = await s.root();
    const child = await s.child(root, s.keys.planner, {
      to: RESEARCHER,
      tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } },
      ttl: '1m',
    });
    await s.guard.withCapability(child, () => s.sendEmail({ to: 'ops@example.com', body: 'x' }));
    s.ran.length = 0;
    // Past exp + 60 s, still within the 300 s of skew this guard tolerates.
    s.clock.advance(60_000 + 120_000);
    const outcome = await s.guard
      .withCapability(child, () => s.sendEmail({ to: 'ops@example.com', body: 'x' }))
      .then(() => 'ALLOWED' as const, (e: unknown) => e);
    expect(s.ran).toEqual([]);
    expect(outcome).toBeInstanceOf(ToolDeniedError);
    expect(outcome).toMatchObject({ code: 'call_limit_exceeded' });
  });
});
