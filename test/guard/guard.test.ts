import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createGuard, guardTool, ToolDeniedError, verifyCallCredential } from '../../src/index.js';
import { AGENT, setup } from '../support/fixtures.js';

describe('guarded calls', () => {
  test('an allowed call runs with exactly the parsed arguments and a fresh credential', async () => {
    const { guard, ran, grant } = await setup();
    const seen: unknown[] = [];
    const tool = guardTool(
      guard,
      {
        name: 'tickets.read',
        description: 'Read a ticket',
        input: z.object({ ticketId: z.string().trim() }),
        risk: 'read',
      },
      async (args, ctx) => {
        seen.push(args, ctx.callId, ctx.agent.id, ctx.intent.id, ctx.credential.type);
        return 'ok';
      },
    );
    const cap = await grant();
    await expect(guard.withCapability(cap, () => tool({ ticketId: '  4711 ', extra: 'dropped' } as never, { callId: 'call-1' }))).resolves.toBe('ok');
    expect(seen).toEqual([{ ticketId: '4711' }, 'call-1', AGENT, 'ticket-4711', 'tessera-call+jwt']);
    expect(ran).toEqual([]);
  });

  test('guard.tool and guardTool are the same wrapper; the definition keeps name, description, schema and defaults', async () => {
    const { guard } = await setup();
    const input = z.object({ q: z.string() });
    const t = guardTool(guard, { name: 'search.web', description: 'Search', input }, async () => 1);
    expect(t.name).toBe('search.web');
    expect(t.definition).toMatchObject({ name: 'search.web', description: 'Search', input, risk: 'write', type: 'function' });
    expect(t.guard).toBe(guard);
  });

  test('a call outside withCapability is denied capability_missing and nothing runs', async () => {
    const { readTicket, ran } = await setup();
    const err = await readTicket({ ticketId: '4711' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolDeniedError);
    expect(err).toMatchObject({ code: 'capability_missing', tool: 'tickets.read' });
    expect((err as ToolDeniedError).reason).toMatch(/withCapability/);
    expect(ran).toEqual([]);
  });

  test('a tool outside the intent is denied tool_not_granted naming the tool, the intent and the granted tools of its namespace', async () => {
    const { guard, grant, ran } = await setup();
    const del = guardTool(guard, { name: 'tickets.delete', description: 'Delete', input: z.object({ id: z.string() }) }, async () => {
      ran.push('delete');
    });
    const cap = await grant();
    const err = (await guard.withCapability(cap, () => del({ id: '1' })).catch((e: unknown) => e)) as ToolDeniedError;
    expect(err.code).toBe('tool_not_granted');
    expect(err.reason).toBe('the capability for intent "ticket-4711" does not grant "tickets.delete"; it grants 2 tools, including tickets.read');
    expect(err.standards.owaspAgentic).toMatch(/^ASI02/);
    expect(err.toJSON()).toMatchObject({ denied: true, code: 'tool_not_granted', standards: ['ASI02', 'T2', 'L3', 'GOVERN 1.4'] });
    expect(ran).toEqual([]);
  });

  test('arguments that fail the schema are denied arguments_invalid', async () => {
    const { sendEmail, grant, guard, ran } = await setup();
    const cap = await grant();
    await expect(guard.withCapability(cap, () => sendEmail({ to: 'not-an-email', subject: 's', body: 'b' }))).rejects.toMatchObject({
      code: 'arguments_invalid',
    });
    expect(ran).toEqual([]);
  });

  test('arguments outside the grant are denied arguments_out_of_scope, naming the field and the rule', async () => {
    const { sendEmail, grant, guard, ran } = await setup();
    const cap = await grant();
    const err = (await guard
      .withCapability(cap, () => sendEmail({ to: 'boss@evil.com', subject: 's', body: 'b' }))
      .catch((e: unknown) => e)) as ToolDeniedError;
    expect(err.code).toBe('arguments_out_of_scope');
    expect(err.reason).toContain('to must be a string ending with "@example.com"');
    expect(ran).toEqual([]);
  });

  test('maxCalls is enforced: the second call is denied call_limit_exceeded', async () => {
    const { sendEmail, grant, guard, ran } = await setup();
    const cap = await grant();
    await guard.withCapability(cap, () => sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }));
    await expect(guard.withCapability(cap, () => sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }))).rejects.toMatchObject({
      code: 'call_limit_exceeded',
    });
    expect(ran).toEqual(['email.send:a@example.com']);
  });

  test('an explicit capability option wins over the async context', async () => {
    const { readTicket, grant, guard, authority } = await setup();
    const good = await grant();
    const other = await authority.grant({
      agent: AGENT,
      audience: 'support-app',
      intent: { id: 'other', purpose: 'Other' },
      tools: { 'email.send': {} },
    });
    await expect(guard.withCapability(other, () => readTicket({ ticketId: '4711' }, { capability: good }))).resolves.toMatchObject({ id: '4711' });
    await expect(guard.withCapability(good, () => readTicket({ ticketId: '4711' }, { capability: other }))).rejects.toMatchObject({
      code: 'tool_not_granted',
    });
  });

  test('an exception from the implementation is rethrown unchanged and the credential is revoked', async () => {
    const { guard, grant, clock } = await setup();
    const boom = new RangeError('downstream exploded');
    let token = '';
    const t = guardTool(guard, { name: 'tickets.read', description: 'x', input: z.object({ ticketId: z.string() }) }, async (_a, ctx) => {
      token = ctx.credential.token;
      throw boom;
    });
    const cap = await grant();
    await expect(guard.withCapability(cap, () => t({ ticketId: '4711' }))).rejects.toBe(boom);
    await expect(
      verifyCallCredential(token, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'tickets.read', store: guard.store, clock }),
    ).rejects.toMatchObject({ code: 'replay_detected' });
  });

  test('an aborted signal stops the call before the tool runs: call_aborted', async () => {
    const { readTicket, grant, guard, ran } = await setup();
    const cap = await grant();
    const ac = new AbortController();
    ac.abort();
    await expect(guard.withCapability(cap, () => readTicket({ ticketId: '4711' }, { signal: ac.signal }))).rejects.toMatchObject({
      code: 'call_aborted',
    });
    expect(ran).toEqual([]);
  });

  test('the tool receives the caller signal', async () => {
    const { guard, grant } = await setup();
    const ac = new AbortController();
    let received: AbortSignal | undefined;
    const t = guardTool(guard, { name: 'tickets.read', description: 'x', input: z.object({ ticketId: z.string() }), risk: 'read' }, (_a, ctx) => {
      received = ctx.signal;
    });
    await t({ ticketId: '4711' }, { capability: await grant(), signal: ac.signal });
    expect(received).toBe(ac.signal);
  });
});

describe('options are validated once, naming the option', () => {
  test('createGuard refuses bad options', async () => {
    const { createGuard } = await import('../../src/index.js');
    expect(() => createGuard({ audience: '', trust: { issuer: 'x', jwks: { keys: [] } } })).toThrow(/audience/);
    expect(() => createGuard({ audience: 'a', trust: [] })).toThrow(/trust/);
    expect(() => createGuard({ audience: 'a', trust: { issuer: 'x', jwks: { keys: [] }, algorithms: ['HS256'] } })).toThrow(/HS256/);
    expect(() => createGuard({ audience: 'a', trust: { issuer: 'x', jwks: { keys: [] } }, clockSkewSec: 3600 })).toThrow(RangeError);
  });

  test('tool definitions are validated', async () => {
    const { guard } = await setup();
    expect(() => guardTool(guard, { name: '__proto__', description: 'x', input: z.object({}) }, () => 1)).toThrow(/reserved/);
    expect(() => guardTool(guard, { name: 'ok', description: 'x', input: {} as never }, () => 1)).toThrow(/zod schema/);
    expect(() => guardTool(guard, { name: 'ok', description: 'x', input: z.object({}), risk: 'yolo' as never }, () => 1)).toThrow(/risk/);
  });
});

describe('guardTool is the one way to guard a tool', () => {
  test('a guard has no tool method of its own, and guardTool refuses anything createGuard did not make', () => {
    const def = { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }), risk: 'read' as const };
    expect('tool' in createGuard({ audience: 'a', trust: { issuer: 'https://authz.example.com', jwks: { keys: [] } } })).toBe(false);
    expect(() => guardTool({} as never, def, () => 'x')).toThrow(new TypeError('guardTool needs a guard made by createGuard'));
    expect(() => guardTool(null as never, def, () => 'x')).toThrow(TypeError);
  });
});
