import { describe, expect, test } from 'vitest';
import { CapabilityError, delegate, generateSigningKey } from '../../src/index.js';
import { delegatedCapabilityId } from '../../src/capability/delegation-chain.js';
import { AUDIENCE, ISSUER } from '../support/fixtures.js';
import { MAILER, PLANNER, RESEARCHER, setupChain, unpack } from './chain-fixtures.js';

describe('delegate()', () => {
  test('signs a child with the delegating agent key: iss is the parent subject, act and prt carry the chain', async () => {
    const { chain, keys } = await setupChain();
    const { root, toResearcher, toMailer } = await chain();
    const child = unpack(toResearcher);
    expect(child.header).toEqual({ alg: 'EdDSA', typ: 'tessera-cap+jwt', jwk: keys.planner.publicJwk });
    expect(child.payload).toMatchObject({ iss: PLANNER, sub: RESEARCHER, aud: AUDIENCE, act: { sub: PLANNER }, prt: root, cnf: { jkt: keys.researcher.jkt } });
    const grandchild = unpack(toMailer);
    expect(grandchild.payload).toMatchObject({ iss: RESEARCHER, sub: MAILER, act: { sub: RESEARCHER, act: { sub: PLANNER } }, prt: toResearcher });
    expect(grandchild.payload.intent).toEqual({ id: 'ticket-4711', purpose: 'Answer ticket 4711' });
  });

  test('a guard verifies the whole chain offline and reports it', async () => {
    const { chain, guard } = await setupChain();
    const { root, toResearcher, toMailer } = await chain();
    const cap = await guard.inspect(toMailer);
    expect(cap.chain.depth).toBe(2);
    expect(cap.chain.agents).toEqual([PLANNER, RESEARCHER, MAILER]);
    // The root's id is its jti (the authority's choice); a delegated link's id is derived from the chain.
    const rootId = unpack(root).payload.jti as string;
    const ids = [rootId, delegatedCapabilityId(rootId, toResearcher), delegatedCapabilityId(rootId, toMailer)];
    expect(cap.chain.ids).toEqual(ids);
    expect(cap.id).toBe(ids[2]);
    expect(cap.issuer).toBe(RESEARCHER);
    expect(cap.issuedAt).toBe(unpack(root).payload.iat);
    expect(cap.issuedAtMs).toBe(unpack(root).payload.iat_ms);
    expect([...cap.ancestorLimits.entries()].map(([id, m]) => [id, Object.fromEntries(m)])).toEqual([
      [ids[0], { 'email.send': 3 }],
      [ids[1], { 'email.send': 2 }],
    ]);
  });

  test('the grandchild calls within its scope; outside it the call is denied and the body never runs', async () => {
    const { chain, guard, keys, sendEmail, ran } = await setupChain();
    const { toMailer } = await chain();
    const binding = { capability: toMailer, prover: keys.mailer };
    await expect(guard.withCapability(binding, () => sendEmail({ to: 'ops@example.com', body: 'hi' }))).resolves.toEqual({ ok: true });
    await expect(guard.withCapability(binding, () => sendEmail({ to: 'sales@example.com', body: 'hi' }))).rejects.toMatchObject({
      code: 'arguments_out_of_scope',
    });
    expect(ran).toEqual(['email.send:ops@example.com']);
  });

  test("a child's calls count against every ancestor's budget: siblings cannot multiply it", async () => {
    const { chain, guard, keys, sendEmail, child, ran } = await setupChain();
    const { toResearcher } = await chain();
    // The researcher may send 2 emails; three siblings of 1 each still share those 2.
    const siblings = await Promise.all(
      [1, 2, 3].map(() => child(toResearcher, keys.researcher, { to: MAILER, tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 } } })),
    );
    for (const s of siblings.slice(0, 2)) await guard.withCapability(s, () => sendEmail({ to: 'a@example.com', body: 'x' }));
    await expect(guard.withCapability(siblings[2]!, () => sendEmail({ to: 'a@example.com', body: 'x' }))).rejects.toMatchObject({
      code: 'call_limit_exceeded',
    });
    expect(ran).toEqual(['email.send:a@example.com', 'email.send:a@example.com']);
  });

  test('defaults: the child lives as long as its parent and keeps its intent; a purpose may be restated', async () => {
    const { root, keys, child } = await setupChain();
    const r = await root();
    const c = unpack(await child(r, keys.planner, { to: RESEARCHER, tools: { 'tickets.read': { args: { ticketId: { eq: '4712' } } } }, intent: { purpose: 'Find the order for ticket 4711' } }));
    expect(c.payload.exp).toBe(unpack(r).payload.exp);
    expect(c.payload.intent).toEqual({ id: 'ticket-4711', purpose: 'Find the order for ticket 4711' });
    expect(c.payload.cnf).toBeUndefined();
  });

  test('accepts a bare SigningKey whose thumbprint the parent pins', async () => {
    const { authority, guard, clock } = await setupChain();
    const key = await generateSigningKey('ES256');
    const root = await authority.grant({
      agent: PLANNER,
      audience: AUDIENCE,
      intent: { id: 'i-1', purpose: 'p' },
      tools: { 'tickets.read': {} },
      confirmation: { jwk: key.publicJwk },
    });
    const c = await delegate(root, { to: RESEARCHER, tools: { 'tickets.read': { args: { ticketId: { eq: '1' } } } } }, { key, clock });
    expect((await guard.inspect(c)).chain.agents).toEqual([PLANNER, RESEARCHER]);
  });

  test('a refusal is a CapabilityError with code delegation_invalid and says what to change', async () => {
    const { root, keys, child } = await setupChain();
    const r = await root();
    const err = await child(r, keys.planner, { to: RESEARCHER, tools: { 'email.send': { args: { to: { endsWith: '@example.com' } } } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapabilityError);
    expect(err).toMatchObject({
      code: 'delegation_invalid',
      reason: 'delegation refused: link 1 drops email.send maxCalls (the parent allows 3; set maxCalls to at most that)',
    });
  });

  test('rejects a malformed request naming the field, without echoing values', async () => {
    const { root, keys, child } = await setupChain();
    const r = await root();
    await expect(child(r, keys.planner, { to: '', tools: { 'tickets.read': {} } })).rejects.toMatchObject({
      code: 'delegation_invalid',
      reason: expect.stringMatching(/^delegation refused: request\.to: /) as unknown,
    });
  });

  test('options are checked: a missing key is a TypeError', async () => {
    const { root } = await setupChain();
    const r = await root();
    await expect(delegate(r, { to: RESEARCHER, tools: { 'tickets.read': {} } }, { key: {} as never })).rejects.toBeInstanceOf(TypeError);
  });
});

describe('authority.delegate() (token exchange)', () => {
  test('mints a child signed by the authority for a delegating agent without a key', async () => {
    const { authority, guard, sendEmail, ran } = await setupChain();
    const keyless = await authority.grant({
      agent: PLANNER,
      audience: AUDIENCE,
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } },
    });
    const child = await authority.delegate(keyless, { to: MAILER, tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } } });
    const c = unpack(child);
    expect(c.header.kid).toBe(authority.kid);
    expect(c.payload).toMatchObject({ iss: ISSUER, sub: MAILER, act: { sub: PLANNER }, prt: keyless });
    const cap = await guard.inspect(child);
    expect(cap.chain.agents).toEqual([PLANNER, MAILER]);
    await guard.withCapability(child, () => sendEmail({ to: 'ops@example.com', body: 'x' }));
    expect(ran).toEqual(['email.send:ops@example.com']);
  });

  test('applies the same narrowing rules', async () => {
    const { authority, chain } = await setupChain();
    const { toResearcher } = await chain();
    await expect(
      authority.delegate(toResearcher, { to: MAILER, tools: { 'email.send': { args: { to: { endsWith: 'example.com' } }, maxCalls: 1 } } }),
    ).rejects.toMatchObject({
      code: 'delegation_invalid',
      reason: "delegation refused: link 2 widens email.send.to: endsWith 'example.com' is not within endsWith '@example.com'",
    });
  });

  test('refuses a parent it cannot verify', async () => {
    const { authority, chain } = await setupChain();
    const { toResearcher } = await chain();
    const other = await (await import('../../src/index.js')).createAuthority({ issuer: ISSUER });
    await expect(other.delegate(toResearcher, { to: MAILER, tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } } } })).rejects.toMatchObject({
      code: 'delegation_invalid',
      reason: expect.stringMatching(/^delegation refused: the parent capability does not verify: link 0 \(the root grant\): /) as unknown,
    });
  });
});
