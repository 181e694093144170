import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createTestAuthority, isDenial, settleCall } from '../../src/testing/index.js';
import { ToolDeniedError, guardTool } from '../../src/index.js';

const t = await createTestAuthority();
const ran: string[] = [];
const sendEmail = guardTool(
  t.guard,
  { name: 'email.send', description: 'Send an email', input: z.object({ to: z.string() }), risk: 'write' },
  async (args, ctx) => {
    ran.push(args.to);
    ctx.sideEffect('email.sent', { to: args.to });
    return { ok: true };
  },
);
const flaky = guardTool(t.guard, { name: 'flaky', description: 'Throws', input: z.object({}), risk: 'read' }, () => {
  throw new RangeError('downstream said no');
});

beforeEach(() => {
  t.reset();
  ran.length = 0;
});
afterAll(() => t.close());

const emailCap = () => t.grant({ tools: { 'email.send': { args: { to: { endsWith: '@example.com' } } }, flaky: {} } });

describe('toBeDenied', () => {
  test('passes for a denial with the named code and the body did not run', async () => {
    const cap = await emailCap();
    await expect(sendEmail({ to: 'x@evil.test' }, { capability: cap })).toBeDenied('arguments_out_of_scope');
    expect(ran).toEqual([]);
  });

  test('accepts a function that makes the call', async () => {
    const cap = await emailCap();
    await expect(() => sendEmail({ to: 'x@evil.test' }, { capability: cap })).toBeDenied();
  });

  test('fails, naming the actual code and reason, when the code differs', async () => {
    const cap = await emailCap();
    await expect(expect(sendEmail({ to: 'x@evil.test' }, { capability: cap })).toBeDenied('tool_not_granted')).rejects.toThrow(
      /expected the call to be denied with tool_not_granted, but it was denied with arguments_out_of_scope: to must be a string ending with "@example.com"/,
    );
  });

  test('fails when the call was allowed', async () => {
    const cap = await emailCap();
    await expect(expect(sendEmail({ to: 'a@example.com' }, { capability: cap })).toBeDenied()).rejects.toThrow(
      'expected the call to be denied, but it was allowed',
    );
  });

  test('a tool that threw is not a denial', async () => {
    const cap = await emailCap();
    await expect(expect(flaky({}, { capability: cap })).toBeDenied()).rejects.toThrow(
      'expected the call to be denied, but it was a tool error: the guard allowed the call, then the tool threw RangeError: downstream said no',
    );
  });

  test('refuses a code that does not exist, so a typo cannot pass', async () => {
    await expect(expect(Promise.resolve(1)).toBeDenied('tool_not_grantd' as never)).rejects.toThrow(TypeError);
  });

  test('.not inverts it', async () => {
    const cap = await emailCap();
    await expect(sendEmail({ to: 'a@example.com' }, { capability: cap })).not.toBeDenied();
  });
});

describe('toBeAllowed', () => {
  test('passes when the guard allowed and the tool returned', async () => {
    const cap = await emailCap();
    await expect(sendEmail({ to: 'a@example.com' }, { capability: cap })).toBeAllowed();
    expect(ran).toEqual(['a@example.com']);
  });

  test('fails with the denial code and reason', async () => {
    await expect(expect(sendEmail({ to: 'a@example.com' })).toBeAllowed()).rejects.toThrow(
      /expected the call to be allowed, but it was denied with capability_missing/,
    );
  });

  test('fails when the tool threw', async () => {
    const cap = await emailCap();
    await expect(expect(flaky({}, { capability: cap })).toBeAllowed()).rejects.toThrow(/the tool threw RangeError/);
  });
});

describe('toHaveRecordedSideEffect', () => {
  test('finds a side effect on the captured spans', async () => {
    const cap = await emailCap();
    await sendEmail({ to: 'a@example.com' }, { capability: cap });
    expect(t.spans).toHaveRecordedSideEffect('email.sent');
    expect(t).toHaveRecordedSideEffect('email.sent', { tool: 'email.send' });
    expect(t.spans.spans()).toHaveRecordedSideEffect('email.sent');
  });

  test('fails when no span carries it, listing what was recorded', async () => {
    const cap = await emailCap();
    await expect(sendEmail({ to: 'x@evil.test' }, { capability: cap })).toBeDenied('arguments_out_of_scope');
    expect(() => expect(t.spans).toHaveRecordedSideEffect('email.sent')).toThrow(
      /expected a side effect "email.sent"\. Recorded spans:\n  - execute_tool email.send: decision=deny code=arguments_out_of_scope/,
    );
  });

  test('a side effect on another tool does not count', async () => {
    const cap = await emailCap();
    await sendEmail({ to: 'a@example.com' }, { capability: cap });
    expect(t.spans).not.toHaveRecordedSideEffect('email.sent', { tool: 'flaky' });
  });
});

describe('settleCall and isDenial', () => {
  test('classify the three outcomes', async () => {
    const denial = new ToolDeniedError('call_limit_exceeded', 'only once', { tool: 'x', callId: 'c' });
    expect(isDenial(denial)).toBe(true);
    expect(isDenial(Object.assign(new Error('x'), { code: 'call_limit_exceeded', reason: 'r' }))).toBe(false);
    expect(await settleCall(Promise.reject(denial))).toEqual({ kind: 'denied', code: 'call_limit_exceeded', reason: 'only once', tool: 'x' });
    expect(await settleCall(() => 7)).toEqual({ kind: 'allowed', value: 7 });
    const failed = await settleCall(() => {
      throw new Error('boom');
    });
    expect(failed.kind).toBe('failed');
  });
});

describe('toBeAllowed needs a call to judge', () => {
  test('a value that is neither a promise nor a function does not pass as an allowed call', async () => {
    await import('../../src/testing/index.js');
    // e.g. a framework result object that carries a denial as data
    const result = { error: 'Tool "email.send" denied (tool_not_granted)' };
    await expect(expect(result).toBeAllowed()).rejects.toThrow(TypeError);
  });
});
