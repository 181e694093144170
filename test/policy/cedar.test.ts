import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { CEDAR_NO_PERMIT_ID, CEDAR_UNKNOWN_TOOL_ID, createCedarEngine, type CedarEngineOptions } from '../../src/policy/cedar.js';
import { createRulesEngine, InvalidPolicyError, type GuardOptions, type PolicyEngine, guardTool } from '../../src/index.js';
import { createScriptedApprover } from '../../src/policy/approvers.js';
import type { PolicyRequest } from '../../src/policy/types.js';
import { setup } from '../support/fixtures.js';

const example = (name: string): string => readFileSync(new URL(`../../examples/policies/${name}`, import.meta.url), 'utf8');
const BUSINESS_HOURS = example('no-external-email-outside-business-hours.cedar');
const PROD_APPROVAL = example('production-writes-need-approval.cedar');
const SUBAGENTS = example('subagents-read-only.cedar');
const PERMIT_ALL = '@id("permit-all")\npermit (principal, action, resource);\n';

const defs = {
  read: { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' as const },
  mail: { name: 'email.send', description: 'Send email', input: z.object({ to: z.string().email(), subject: z.string(), body: z.string() }), risk: 'external' as const },
  refund: { name: 'refunds.issue', description: 'Refund', input: z.object({ amount: z.number(), count: z.number().int().optional() }), risk: 'write' as const },
};
const TOOLS = [defs.read, defs.mail, defs.refund];
const cedarEngine = (policies: CedarEngineOptions['policies'], extra: Partial<CedarEngineOptions> = {}) => createCedarEngine({ policies, tools: TOOLS, ...extra });

/** A guard whose tools are the definitions above, all granted. */
async function world(policy: PolicyEngine | PolicyEngine[], extra: Partial<GuardOptions> = {}) {
  const s = await setup({ policy, ...extra });
  const read = guardTool(s.guard, defs.read, async (a) => (s.ran.push(`read:${a.ticketId}`), 'ticket'));
  const mail = guardTool(s.guard, defs.mail, async (a) => (s.ran.push(`mail:${a.to}`), 'sent'));
  const refund = guardTool(s.guard, defs.refund, async (a) => (s.ran.push(`refund:${a.amount}`), 'refunded'));
  const tools = { 'tickets.read': {}, 'email.send': {}, 'refunds.issue': {} };
  const cap = await s.grant({ tools });
  return { ...s, read, mail, refund, cap, tools };
}
const letter = { to: 'c@example.com', subject: 's', body: 'b' };
const MONDAY_10 = Date.UTC(2026, 10, 30, 10, 0, 0);

describe('Cedar engine through guarded calls', () => {
  test('allow: a matching permit lets the call run', async () => {
    const { read, cap, ran } = await world(cedarEngine(PERMIT_ALL + SUBAGENTS));
    await expect(read({ ticketId: '1' }, { capability: cap })).resolves.toBe('ticket');
    expect(ran).toEqual(['read:1']);
  });

  test('deny: without a matching permit Cedar denies by default', async () => {
    const { read, cap, ran } = await world(cedarEngine(SUBAGENTS));
    await expect(read({ ticketId: '1' }, { capability: cap })).rejects.toMatchObject({ code: 'policy_denied', policyIds: [CEDAR_NO_PERMIT_ID] });
    expect(ran).toEqual([]);
  });

  test('forbid over permit: no external email outside business hours', async () => {
    const { mail, cap, clock, grant, tools, ran } = await world(cedarEngine(PERMIT_ALL + BUSINESS_HOURS));
    // The fixture clock starts on Saturday 2026-11-28 12:00 UTC.
    await expect(mail(letter, { capability: cap })).rejects.toMatchObject({
      code: 'policy_denied',
      policyIds: ['no-external-email-outside-business-hours'],
      reason: 'forbidden by Cedar policy "no-external-email-outside-business-hours": external email goes out on weekdays 09:00-17:00 only',
    });
    clock.set(MONDAY_10);
    await expect(mail(letter, { capability: await grant({ tools }) })).resolves.toBe('sent');
    expect(ran).toEqual(['mail:c@example.com']);
  });

  test('the time zone option moves the business hours', async () => {
    // Monday 10:00 UTC is 19:00 in Tokyo: outside business hours there.
    const { mail, clock, grant, tools, ran } = await world(cedarEngine(PERMIT_ALL + BUSINESS_HOURS, { timeZone: 'Asia/Tokyo' }));
    clock.set(MONDAY_10);
    await expect(mail(letter, { capability: await grant({ tools }) })).rejects.toMatchObject({ code: 'policy_denied' });
    expect(ran).toEqual([]);
  });

  test('require approval: production writes ask a human, reads do not', async () => {
    const approver = createScriptedApprover(['approve', 'deny']);
    const { read, refund, cap, ran } = await world(cedarEngine(PROD_APPROVAL), { approver, environment: { name: 'production' } });
    await expect(read({ ticketId: '1' }, { capability: cap })).resolves.toBe('ticket');
    await expect(refund({ amount: 10 }, { capability: cap })).resolves.toBe('refunded');
    await expect(refund({ amount: 20 }, { capability: cap })).rejects.toMatchObject({ code: 'approval_denied' });
    expect(approver.requests.map((r) => r.policyIds)).toEqual([['production-writes-need-approval'], ['production-writes-need-approval']]);
    expect(approver.requests[0]!.why).toBe('approval required by Cedar policy "production-writes-need-approval": writes in production need a human\'s approval');
    expect(ran).toEqual(['read:1', 'refund:10']);
  });

  test('outside production the same write is simply permitted', async () => {
    const approver = createScriptedApprover([]);
    const { refund, cap } = await world(cedarEngine(PROD_APPROVAL), { approver, environment: { name: 'staging' } });
    await expect(refund({ amount: 10 }, { capability: cap })).resolves.toBe('refunded');
    expect(approver.requests).toHaveLength(0);
  });

  test('sub-agents below the root may only read', async () => {
    const { authority, read, refund, cap, ran } = await world(cedarEngine(PERMIT_ALL + SUBAGENTS));
    const child = await authority.delegate(cap, { to: 'spiffe://example.org/agents/helper', tools: { 'tickets.read': {}, 'refunds.issue': {} } });
    await expect(read({ ticketId: '1' }, { capability: child })).resolves.toBe('ticket');
    await expect(refund({ amount: 1 }, { capability: child })).rejects.toMatchObject({ code: 'policy_denied', policyIds: ['subagents-read-only'] });
    await expect(refund({ amount: 1 }, { capability: cap })).resolves.toBe('refunded');
    expect(ran).toEqual(['read:1', 'refund:1']);
  });

  test('argument values reach the context: strings and decimals', async () => {
    const policies = `${PERMIT_ALL}
@id("big-refunds") forbid (principal, action == Action::"refunds.issue", resource) when { context.args.amount.greaterThan(decimal("100.0")) };
@id("outside-mail") forbid (principal, action == Action::"email.send", resource) unless { context.args.to like "*@example.com" };`;
    const { refund, mail, clock, grant, tools, ran } = await world(cedarEngine(policies));
    clock.set(MONDAY_10);
    const cap = await grant({ tools });
    await expect(refund({ amount: 99.5 }, { capability: cap })).resolves.toBe('refunded');
    await expect(refund({ amount: 100.01 }, { capability: cap })).rejects.toMatchObject({ policyIds: ['big-refunds'] });
    await expect(mail({ ...letter, to: 'x@evil.example' }, { capability: cap })).rejects.toMatchObject({ policyIds: ['outside-mail'] });
    expect(ran).toEqual(['refund:99.5']);
  });

  test('deny in the rules engine wins over a Cedar allow', async () => {
    const rules = createRulesEngine({ version: 1, rules: [{ id: 'no-refunds', effect: 'forbid', tools: ['refunds.issue'] }], default: 'allow' });
    const { refund, cap, ran } = await world([cedarEngine(PERMIT_ALL), rules]);
    await expect(refund({ amount: 1 }, { capability: cap })).rejects.toMatchObject({ code: 'policy_denied', policyIds: ['no-refunds'] });
    expect(ran).toEqual([]);
  });

  test('a policy that errors at evaluation denies (Cedar would skip the forbid)', async () => {
    const policies = `${PERMIT_ALL}@id("overflow") forbid (principal, action == Action::"refunds.issue", resource) when { context.args has count && context.args.count + 9223372036854775807 > 0 };`;
    const { refund, cap, ran } = await world(cedarEngine(policies));
    await expect(refund({ amount: 1, count: 5 }, { capability: cap })).rejects.toMatchObject({ code: 'policy_error' });
    await expect(refund({ amount: 1 }, { capability: cap })).resolves.toBe('refunded');
    expect(ran).toEqual(['refund:1']);
  });

  test('a tool the engine was not created with is denied', async () => {
    const engine = createCedarEngine({ policies: PERMIT_ALL, tools: [defs.read] });
    const { refund, cap, ran } = await world(engine);
    await expect(refund({ amount: 1 }, { capability: cap })).rejects.toMatchObject({ code: 'policy_denied', policyIds: [CEDAR_UNKNOWN_TOOL_ID] });
    expect(ran).toEqual([]);
  });

  test('a guarded tool can be passed instead of its definition', async () => {
    const { read } = await world(cedarEngine(PERMIT_ALL));
    const engine = createCedarEngine({ policies: PERMIT_ALL, tools: [read] });
    expect(Object.keys((engine.schema[''] as { actions: object }).actions)).toEqual(['tickets.read']);
  });
});

describe('invalid Cedar policies stop the engine from starting', () => {
  test("an unknown attribute: Cedar's own diagnostic, at its line", () => {
    const policies = `${PERMIT_ALL}\n@id("typo")\nforbid (principal, action == Action::"email.send", resource)\nwhen { context.args.too == "x" };\n`;
    const err = (() => {
      try {
        cedarEngine(policies, { source: 'policies.cedar' });
      } catch (e) {
        return e;
      }
      return undefined;
    })() as InvalidPolicyError;
    expect(err).toBeInstanceOf(InvalidPolicyError);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ path: 'typo', line: 6, help: 'did you mean `to`?' });
    expect(err.issues[0]!.message).toContain('attribute `args.too` in context for Action::"email.send" not found');
    expect(err.message).toContain('policies.cedar:6:');
  });

  test('a syntax error is placed at its line', () => {
    expect(() => cedarEngine('permit (principal, action, resource);\n\nforbid (principal, action, resource) when { context.risk == };', { source: 'x.cedar' })).toThrow(/x\.cedar:3:/);
  });

  test('an action for a tool that does not exist fails validation', () => {
    expect(() => cedarEngine('permit (principal, action == Action::"files.delete", resource);')).toThrow(InvalidPolicyError);
  });

  test('duplicate policy ids are refused', () => {
    expect(() => cedarEngine('@id("a") permit (principal, action, resource);\n@id("a") forbid (principal, action, resource);')).toThrow(/duplicate policy id "a"/);
  });
});

const ONE_TOOL = [{ name: 'tickets.read', input: z.object({ ticketId: z.string() }), risk: 'read' as const }];
const oneRequest: PolicyRequest = {
  agent: { id: 'spiffe://example.org/agents/support', source: 'spiffe', trustDomain: 'example.org', attributes: {} } as unknown as PolicyRequest['agent'],
  intent: { id: 'ticket-1', purpose: 'Answer ticket 1' } as PolicyRequest['intent'],
  tool: { name: 'tickets.read', risk: 'read', description: 'Read a ticket' },
  args: { ticketId: '1' },
  capabilityId: 'cap-1',
  delegation: { depth: 0, chain: [] },
  environment: {},
  time: Date.UTC(2026, 10, 30, 10, 0, 0),
};

describe('Cedar policy ids that are prototype keys', () => {
  test('a forbid named @id("__proto__") still forbids', () => {
    const engine = createCedarEngine({
      policies: '@id("all") permit (principal, action, resource);\n@id("__proto__") forbid (principal, action, resource);\n',
      tools: ONE_TOOL,
    });
    expect(engine.evaluate(oneRequest)).toMatchObject({ effect: 'deny', policyIds: ['__proto__'] });
  });

  test('a forbid keyed "__proto__" in the policies object still forbids', () => {
    const policies = JSON.parse('{"all":"permit (principal, action, resource);","__proto__":"forbid (principal, action, resource);"}') as Record<string, string>;
    const engine = createCedarEngine({ policies, tools: ONE_TOOL });
    expect(engine.evaluate(oneRequest)).toMatchObject({ effect: 'deny', policyIds: ['__proto__'] });
  });
});

describe('Cedar @approval annotation', () => {
  test('a permit marked @approval without "required" is refused when the engine is created, not read as a plain allow', async () => {
    const { InvalidPolicyError } = await import('../../src/policy/errors.js');
    expect(() => createCedarEngine({ policies: '@id("ask") @approval permit (principal, action, resource);\n', tools: ONE_TOOL })).toThrow(InvalidPolicyError);
    expect(() => createCedarEngine({ policies: '@id("ask") @approval("Required") permit (principal, action, resource);\n', tools: ONE_TOOL })).toThrow(InvalidPolicyError);
    const ok = createCedarEngine({ policies: '@id("ask") @approval("required") permit (principal, action, resource);\n', tools: ONE_TOOL });
    expect(ok.evaluate(oneRequest)).toMatchObject({ effect: 'require_approval', policyIds: ['ask'] });
  });
});
