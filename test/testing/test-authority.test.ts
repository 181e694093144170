import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createManualClock, createTestAuthority, DEFAULT_TEST_TIME, expectSpan, type TestAuthority } from '../../src/testing/index.js';
import { guardTool } from '../../src/index.js';

const t: TestAuthority = await createTestAuthority();
const ran: string[] = [];

const readTicket = guardTool(
  t.guard,
  { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
  async (args) => {
    ran.push(args.ticketId);
    return { id: args.ticketId };
  },
);
const sendEmail = guardTool(
  t.guard,
  { name: 'email.send', description: 'Send an email', input: z.object({ to: z.string() }), risk: 'write' },
  async (args, ctx) => {
    ctx.sideEffect('email.sent', { to: args.to });
    return { ok: true };
  },
);

beforeEach(() => {
  t.reset();
  ran.length = 0;
});
afterAll(() => t.close());

describe('createTestAuthority', () => {
  test('grants with defaults and the guard trusts them', async () => {
    const cap = await t.grant({ tools: { 'tickets.read': { args: { ticketId: { eq: '1' } } } } });
    const inspected = await t.guard.inspect(cap);
    expect(inspected.subject).toBe('spiffe://test.example/agents/test');
    expect(inspected.audience).toEqual(['test-app']);
    expect(inspected.issuer).toBe('https://authority.test');
    expect(inspected.expiresAt - inspected.issuedAt).toBe(300);
    await expect(readTicket({ ticketId: '1' }, { capability: cap })).resolves.toEqual({ id: '1' });
    expect(ran).toEqual(['1']);
  });

  test('the clock is the guard\'s: advancing past the ttl expires the capability', async () => {
    const cap = await t.grant({ tools: { 'tickets.read': {} }, ttl: '1m' });
    t.clock.advance('2m');
    await expect(readTicket({ ticketId: '1' }, { capability: cap })).toBeDenied('capability_expired');
    expect(ran).toEqual([]);
  });

  test('reset puts the clock back and forgets spans', async () => {
    const cap = await t.grant({ tools: { 'tickets.read': {} } });
    await readTicket({ ticketId: '9' }, { capability: cap });
    t.clock.advance(5000);
    expect(t.spans.toolSpans()).toHaveLength(1);
    t.reset();
    expect(t.clock()).toBe(DEFAULT_TEST_TIME);
    expect(t.spans.spans()).toHaveLength(0);
  });

  test('spans are captured through the guard\'s own tracer, with decision and code', async () => {
    const cap = await t.grant({ tools: { 'tickets.read': {} } });
    await expect(sendEmail({ to: 'a@example.com' }, { capability: cap })).toBeDenied('tool_not_granted');
    const span = t.expectSpan({ tool: 'email.send', decision: 'deny', code: 'tool_not_granted' });
    expect(span.name).toBe('execute_tool email.send');
    expect(() => t.expectSpan({ tool: 'email.send', decision: 'allow' })).toThrow(
      /expected a span with tool=email.send decision=allow, found 0\. Recorded spans:\n  - execute_tool email.send: decision=deny code=tool_not_granted/,
    );
  });

  test('expectSpan with times counts exactly', async () => {
    const cap = await t.grant({ tools: { 'tickets.read': {} } });
    await readTicket({ ticketId: '1' }, { capability: cap });
    await readTicket({ ticketId: '2' }, { capability: cap });
    expect(expectSpan(t.spans, { tool: 'tickets.read', decision: 'allow', times: 2 }).attributes['gen_ai.tool.name']).toBe('tickets.read');
    expect(() => expectSpan(t, { tool: 'tickets.read', times: 1 })).toThrow(/expected 1 span\(s\) with tool=tickets.read, found 2/);
  });

  test('guard options pass through (a policy that denies)', async () => {
    const strict = await createTestAuthority({
      audience: 'strict-app',
      guard: { policy: { name: 'no', evaluate: () => ({ effect: 'deny', reason: 'closed for the test', policyIds: ['p1'] }) } },
    });
    const tool = guardTool(strict.guard, { name: 'x', description: 'x', input: z.object({}), risk: 'read' }, () => {
      ran.push('x');
    });
    const cap = await strict.grant({ tools: { x: {} } });
    await expect(tool({}, { capability: cap })).toBeDenied('policy_denied');
    expect(ran).toEqual([]);
    strict.expectSpan({ tool: 'x', code: 'policy_denied' });
    await strict.close();
  });
});

describe('createManualClock', () => {
  test('moves only when told', () => {
    const c = createManualClock(1000);
    expect(c()).toBe(1000);
    c.advance('1.5s');
    expect(c()).toBe(2500);
    c.advance(500);
    expect(c()).toBe(3000);
    c.set(10);
    expect(c()).toBe(10);
    expect(c.start).toBe(1000);
  });

  test('refuses nonsense', () => {
    const c = createManualClock();
    expect(() => c.advance('soon' as never)).toThrow(RangeError);
    expect(() => c.set(Number.NaN)).toThrow(RangeError);
    expect(() => createManualClock(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe('createTestAuthority options', () => {
  test('are checked once, naming the bad option', async () => {
    await expect(createTestAuthority({ audience: '' })).rejects.toThrow('createTestAuthority: audience: ');
    await expect(createTestAuthority({ intent: { id: 'x' } as never })).rejects.toThrow(/^createTestAuthority: intent\.purpose: /);
    await expect(createTestAuthority({ colour: 'blue' } as never)).rejects.toThrow(TypeError);
  });
});

describe('hooks: true', async () => {
  const hooked = await createTestAuthority({ hooks: true, audience: 'hooked-app' });
  const tool = guardTool(hooked.guard, { name: 'noop', description: 'n', input: z.object({}), risk: 'read' }, () => 'ok');

  test('first test records a span and moves the clock', async () => {
    await tool({}, { capability: await hooked.grant({ tools: { noop: {} } }) });
    hooked.clock.advance('1h');
    expect(hooked.spans.toolSpans('noop')).toHaveLength(1);
  });

  test('the next test starts clean: no spans, clock at its start', () => {
    expect(hooked.spans.spans()).toHaveLength(0);
    expect(hooked.clock()).toBe(hooked.clock.start);
  });
});
