import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createRulesEngine, type PolicyEngine, type PolicyRequest, type RulesDocument, guardTool } from '../../src/index.js';
import { createScriptedApprover } from '../../src/policy/approvers.js';
import { RULES_DEFAULT_ID, RULES_HIGH_RISK_ID } from '../../src/policy/rules.js';
import { AGENT, setup } from '../support/fixtures.js';

const SUPPORT: RulesDocument = {
  version: 1,
  roles: { support: [{ spiffe: 'spiffe://example.org/agents/*' }] },
  rules: [
    { id: 'support-reads', effect: 'permit', roles: ['support'], tools: ['tickets.*'], risk: ['read'] },
    { id: 'support-mail', effect: 'permit', roles: ['support'], tools: ['email.send'] },
  ],
};

const mail = { to: 'a@example.com', subject: 's', body: 'b' };

/** A guard with the fixture tools plus a high-risk tool, all granted. */
async function world(policy: PolicyEngine | PolicyEngine[], extra: Parameters<typeof setup>[0] = {}) {
  const s = await setup({ policy, ...extra });
  const deploy = guardTool(
    s.guard,
    { name: 'deploy.run', description: 'Deploy a service', input: z.object({ service: z.string(), amount: z.number().int().optional() }), risk: 'production' },
    async (args) => {
      s.ran.push(`deploy.run:${args.service}`);
      return 'deployed';
    },
  );
  const cap = await s.grant({
    tools: {
      'tickets.read': { args: { ticketId: { eq: '4711' } } },
      'email.send': { args: { to: { endsWith: '@example.com' } } },
      'deploy.run': {},
    },
  });
  return { ...s, deploy, cap };
}

describe('rules engine through guarded calls', () => {
  test('a permit for the agent role allows the call', async () => {
    const { readTicket, cap, ran } = await world(createRulesEngine(SUPPORT));
    await expect(readTicket({ ticketId: '4711' }, { capability: cap })).resolves.toMatchObject({ id: '4711' });
    expect(ran).toEqual(['tickets.read:4711']);
  });

  test('no matching rule denies by default with the default id', async () => {
    const doc: RulesDocument = { ...SUPPORT, roles: { support: [{ spiffe: 'spiffe://other.org/**' }] } };
    const { readTicket, cap, ran } = await world(createRulesEngine(doc));
    const err = await readTicket({ ticketId: '4711' }, { capability: cap }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'policy_denied', policyIds: [RULES_DEFAULT_ID] });
    expect(String((err as Error).message)).toContain(`no rule permits "${AGENT}"`);
    expect(ran).toEqual([]);
  });

  test('forbid overrides a matching permit', async () => {
    const doc: RulesDocument = {
      ...SUPPORT,
      rules: [...SUPPORT.rules, { id: 'no-mail-to-ceo', effect: 'forbid', tools: ['email.send'], args: { to: { eq: 'ceo@example.com' } }, reason: 'never mail the CEO' }],
    };
    const { sendEmail, cap, ran } = await world(createRulesEngine(doc));
    await expect(sendEmail({ ...mail, to: 'ceo@example.com' }, { capability: cap })).rejects.toMatchObject({
      code: 'policy_denied',
      policyIds: ['no-mail-to-ceo'],
      reason: 'forbidden by rule "no-mail-to-ceo": never mail the CEO',
    });
    await expect(sendEmail(mail, { capability: cap })).resolves.toMatchObject({ ok: true });
    expect(ran).toEqual(['email.send:a@example.com']);
  });

  test('a permitted high-risk tier requires approval by default', async () => {
    const doc: RulesDocument = { ...SUPPORT, rules: [...SUPPORT.rules, { id: 'support-deploy', effect: 'permit', roles: ['support'], tools: ['deploy.run'] }] };
    const approver = createScriptedApprover(['approve']);
    const { deploy, cap, ran } = await world(createRulesEngine(doc), { approver });
    await expect(deploy({ service: 'api' }, { capability: cap })).resolves.toBe('deployed');
    expect(approver.requests).toHaveLength(1);
    expect(approver.requests[0]!.policyIds).toEqual(['support-deploy', RULES_HIGH_RISK_ID]);
    expect(ran).toEqual(['deploy.run:api']);
  });

  test('requireApproval: false on a permit lets a high-risk tier through without asking', async () => {
    const doc: RulesDocument = {
      ...SUPPORT,
      rules: [...SUPPORT.rules, { id: 'deploy-ok', effect: 'permit', tools: ['deploy.run'], requireApproval: false }],
    };
    const approver = createScriptedApprover([]);
    const { deploy, cap } = await world(createRulesEngine(doc), { approver });
    await expect(deploy({ service: 'api' }, { capability: cap })).resolves.toBe('deployed');
    expect(approver.requests).toHaveLength(0);
  });

  test('require_approval beats permit; without an approver the call is denied', async () => {
    const doc: RulesDocument = {
      ...SUPPORT,
      rules: [...SUPPORT.rules, { id: 'big-deploys', effect: 'require_approval', tools: ['deploy.run'], args: { amount: { min: 100 } } }, { id: 'deploy-ok', effect: 'permit', tools: ['deploy.run'], requireApproval: false }],
    };
    const { deploy, cap, ran } = await world(createRulesEngine(doc));
    await expect(deploy({ service: 'api', amount: 5 }, { capability: cap })).resolves.toBe('deployed');
    await expect(deploy({ service: 'api', amount: 500 }, { capability: cap })).rejects.toMatchObject({ code: 'approval_denied', policyIds: ['big-deploys'] });
    expect(ran).toEqual(['deploy.run:api']);
  });

  test('deny in one engine wins over allow in another, in either order', async () => {
    const allow = createRulesEngine(SUPPORT);
    const denyAll: PolicyEngine = { name: 'freeze', evaluate: () => ({ effect: 'deny', policyIds: ['change-freeze'], reason: 'change freeze' }) };
    for (const engines of [[allow, denyAll], [denyAll, allow]]) {
      const { readTicket, cap, ran } = await world(engines);
      await expect(readTicket({ ticketId: '4711' }, { capability: cap })).rejects.toMatchObject({ code: 'policy_denied', policyIds: ['change-freeze'] });
      expect(ran).toEqual([]);
    }
  });

  test('time windows follow the guard clock', async () => {
    const doc: RulesDocument = {
      ...SUPPORT,
      rules: [...SUPPORT.rules, { id: 'mail-office-hours', effect: 'forbid', tools: ['email.send'], outside: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], hours: { from: '09:00', to: '17:00' } } }],
    };
    const { sendEmail, cap, clock, ran, grant } = await world(createRulesEngine(doc));
    // 2026-11-28 is a Saturday.
    await expect(sendEmail(mail, { capability: cap })).rejects.toMatchObject({ code: 'policy_denied', policyIds: ['mail-office-hours'] });
    clock.set(Date.UTC(2026, 10, 30, 10, 0, 0)); // Monday 10:00 UTC
    const monday = await grant();
    await expect(sendEmail(mail, { capability: monday })).resolves.toMatchObject({ ok: true });
    clock.set(Date.UTC(2026, 10, 30, 17, 0, 0)); // Monday 17:00, the window's end is exclusive
    const evening = await grant();
    await expect(sendEmail(mail, { capability: evening })).rejects.toMatchObject({ code: 'policy_denied', policyIds: ['mail-office-hours'] });
    expect(ran).toEqual(['email.send:a@example.com']);
  });

  test('environment and intent conditions', async () => {
    const doc: RulesDocument = {
      ...SUPPORT,
      rules: [...SUPPORT.rules, { id: 'prod-no-mail-for-tests', effect: 'forbid', tools: ['email.send'], environment: { name: 'production' }, intent: { purposeIncludes: ['ticket'] } }],
    };
    const prod = await world(createRulesEngine(doc), { environment: { name: 'production' } });
    await expect(prod.sendEmail(mail, { capability: prod.cap })).rejects.toMatchObject({ code: 'policy_denied', policyIds: ['prod-no-mail-for-tests'] });
    const staging = await world(createRulesEngine(doc), { environment: { name: 'staging' } });
    await expect(staging.sendEmail(mail, { capability: staging.cap })).resolves.toMatchObject({ ok: true });
  });

  test('a rate per agent refuses calls past the limit until the window passes', async () => {
    const doc: RulesDocument = { ...SUPPORT, rules: [...SUPPORT.rules, { id: 'read-rate', effect: 'forbid', tools: ['tickets.read'], rate: { max: 2, per: '1m' } }] };
    const { readTicket, cap, clock, ran } = await world(createRulesEngine(doc));
    await readTicket({ ticketId: '4711' }, { capability: cap });
    await readTicket({ ticketId: '4711' }, { capability: cap });
    await expect(readTicket({ ticketId: '4711' }, { capability: cap })).rejects.toMatchObject({ code: 'policy_denied', policyIds: ['read-rate'] });
    clock.advance(60_000);
    await readTicket({ ticketId: '4711' }, { capability: cap });
    expect(ran).toHaveLength(3);
  });

  test('sub-agents below the root may only read', async () => {
    const doc: RulesDocument = {
      ...SUPPORT,
      rules: [...SUPPORT.rules, { id: 'subagents-read-only', effect: 'forbid', delegationDepth: { gte: 1 }, risk: ['write', 'external', 'production', 'admin'] }],
    };
    const { authority, readTicket, sendEmail, cap, ran } = await world(createRulesEngine(doc));
    const child = await authority.delegate(cap, {
      to: 'spiffe://example.org/agents/helper',
      tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } }, 'email.send': { args: { to: { endsWith: '@example.com' } } } },
    });
    await expect(readTicket({ ticketId: '4711' }, { capability: child })).resolves.toMatchObject({ id: '4711' });
    await expect(sendEmail(mail, { capability: child })).rejects.toMatchObject({ code: 'policy_denied', policyIds: ['subagents-read-only'] });
    await expect(sendEmail(mail, { capability: cap })).resolves.toMatchObject({ ok: true });
    expect(ran).toEqual(['tickets.read:4711', 'email.send:a@example.com']);
  });
});

describe('roles from identity', () => {
  const request = (agent: PolicyRequest['agent']): PolicyRequest => ({
    agent,
    intent: { id: 'i', purpose: 'p' },
    tool: { name: 'tickets.read', risk: 'read', description: '' },
    args: {},
    capabilityId: 'c',
    delegation: { depth: 0, chain: [agent.id] },
    environment: {},
    time: 0,
  });
  const engine = createRulesEngine({
    version: 1,
    roles: {
      oidcSupport: [{ issuer: 'https://idp.example.com', claims: { groups: 'support' } }],
      spiffeDeep: [{ spiffe: 'spiffe://example.org/agents/**' }],
    },
    rules: [
      { id: 'oidc', effect: 'permit', roles: ['oidcSupport'] },
      { id: 'deep', effect: 'permit', roles: ['spiffeDeep'] },
    ],
  });

  test('an OIDC claim list that includes the wanted group gives the role', () => {
    const d = engine.evaluate(request({ id: 'https://idp.example.com#u1', issuer: 'https://idp.example.com', source: 'oidc', attributes: { groups: ['ops', 'support'] } }));
    expect(d).toMatchObject({ effect: 'allow', policyIds: ['oidc'] });
  });

  test('the same claim from another issuer does not', () => {
    const d = engine.evaluate(request({ id: 'https://evil.example#u1', issuer: 'https://evil.example', source: 'oidc', attributes: { groups: ['support'] } }));
    expect(d).toMatchObject({ effect: 'deny', policyIds: [RULES_DEFAULT_ID] });
  });

  test('* stays within one path segment, ** crosses segments', () => {
    const single = createRulesEngine({ version: 1, roles: { r: [{ spiffe: 'spiffe://example.org/agents/*' }] }, rules: [{ id: 'x', effect: 'permit', roles: ['r'] }] });
    const agent = (id: string): PolicyRequest['agent'] => ({ id, source: 'asserted' });
    expect(single.evaluate(request(agent('spiffe://example.org/agents/a/b')))).toMatchObject({ effect: 'deny' });
    expect(single.evaluate(request(agent('spiffe://example.org/agents/a')))).toMatchObject({ effect: 'allow' });
    expect(engine.evaluate(request(agent('spiffe://example.org/agents/a/b')))).toMatchObject({ effect: 'allow', policyIds: ['deep'] });
    expect(engine.evaluate(request(agent('spiffe://example.org.evil/agents/a')))).toMatchObject({ effect: 'deny' });
  });
});

describe('shared conditions', () => {
  const request = (environment: string, to: string): PolicyRequest => ({
    agent: { id: AGENT, source: 'asserted' },
    intent: { id: 'i', purpose: 'p' },
    tool: { name: 'email.send', risk: 'write', description: 'd' },
    args: { to },
    capabilityId: 'c',
    delegation: { depth: 0, chain: [AGENT] },
    environment: { name: environment },
    time: Date.UTC(2026, 10, 30, 10),
  });

  test('a condition shared by several rules is decided per request, never carried over', () => {
    const engine = createRulesEngine({
      version: 1,
      rules: [
        { id: 'prod-internal', effect: 'permit', environment: { name: 'production' }, args: { to: { endsWith: '@example.com' } } },
        { id: 'prod-block', effect: 'forbid', environment: { name: 'production' }, args: { to: { endsWith: '@evil.example' } } },
        { id: 'staging', effect: 'permit', environment: { name: 'staging' } },
      ],
    });
    expect(engine.evaluate(request('production', 'a@example.com'))).toMatchObject({ effect: 'allow', policyIds: ['prod-internal'] });
    expect(engine.evaluate(request('production', 'x@evil.example'))).toMatchObject({ effect: 'deny', policyIds: ['prod-block'] });
    expect(engine.evaluate(request('staging', 'x@evil.example'))).toMatchObject({ effect: 'allow', policyIds: ['staging'] });
    expect(engine.evaluate(request('qa', 'a@example.com'))).toMatchObject({ effect: 'deny', policyIds: [RULES_DEFAULT_ID] });
  });
});
