import { beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import type { Guard, GuardedTool } from '../../src/index.js';
import { AGENT, setup } from '../support/fixtures.js';
import { guardTool } from '../../src/index.js';

// The tool's schema is deliberately loose (any JSON values) so that the grant's constraints are
// the only thing between the model's arguments and the tool. Each attempt pins one outcome.

let guard: Guard;
let cap: string;
let call: GuardedTool;
let ran: unknown[];

beforeAll(async () => {
  const s = await setup();
  guard = s.guard;
  ran = [];
  call = guardTool(
    guard,
    { name: 'http.fetch', description: 'Fetch', input: z.record(z.string(), z.unknown()), risk: 'read' },
    (args) => {
      ran.push(args);
      return 'fetched';
    },
  );
  cap = await s.authority.grant({
    agent: AGENT,
    audience: 'support-app',
    intent: { id: 'i', purpose: 'p' },
    tools: {
      'http.fetch': {
        args: {
          url: { hostIn: ['api.example.com'] },
          to: { endsWith: '@example.com', optional: true },
          account: { eq: '1', optional: true },
          path: { pathWithin: '/srv/reports', optional: true },
          limit: { max: 10, optional: true },
        },
      },
    },
  });
});

const attempt = (args: Record<string, unknown>) =>
  call(args, { capability: cap }).then(
    () => 'allowed',
    (e: { code: string }) => e.code,
  );

describe('constraint bypass attempts are denied arguments_out_of_scope', () => {
  test('control: an in-scope call is allowed', async () => {
    expect(await attempt({ url: 'https://api.example.com/v1', to: 'a@example.com', account: '1', path: '/srv/reports/q3.csv', limit: 10 })).toBe('allowed');
  });

  test.each([
    ['upper-case suffix', { url: 'https://api.example.com', to: 'a@EXAMPLE.COM' }],
    ['trailing dot on the email domain', { url: 'https://api.example.com', to: 'a@example.com.' }],
    ['Cyrillic look-alike in the suffix', { url: 'https://api.example.com', to: 'a@exаmple.com' }],
    ['fullwidth look-alike in the suffix', { url: 'https://api.example.com', to: 'a@ｅxample.com' }],
    ['zero-width space after the suffix', { url: 'https://api.example.com', to: 'a@example.com\u200b' }],
    ['trailing dot on the host', { url: 'https://api.example.com./v1' }],
    ['host as a subdomain of an attacker', { url: 'https://api.example.com.evil.example/v1' }],
    ['userinfo trick', { url: 'https://api.example.com@evil.example/v1' }],
    ['plain http', { url: 'http://api.example.com/v1' }],
    ['punycode look-alike host', { url: 'https://аpi.example.com/v1' }],
    ['number instead of string', { url: 'https://api.example.com', account: 1 }],
    ['string "1 " with a space', { url: 'https://api.example.com', account: '1 ' }],
    ['array wrapping the value', { url: ['https://api.example.com'] }],
    ['numeric string for a number', { url: 'https://api.example.com', limit: '5' }],
    ['Infinity-like huge number', { url: 'https://api.example.com', limit: 1e308 }],
    ['path traversal', { url: 'https://api.example.com', path: '../../etc/passwd' }],
    ['encoded traversal', { url: 'https://api.example.com', path: '%2e%2e/%2e%2e/etc/passwd' }],
    ['backslash traversal', { url: 'https://api.example.com', path: '..\\..\\etc\\passwd' }],
    ['missing required constrained argument', { to: 'a@example.com' }],
  ])('%s', async (_name, args) => {
    const before = ran.length;
    expect(await attempt(args)).toBe('arguments_out_of_scope');
    expect(ran.length).toBe(before);
  });
});

describe('prototype keys in arguments', () => {
  test('an own __proto__ argument cannot satisfy or smuggle a constraint', async () => {
    const args = JSON.parse('{"__proto__": {"url": "https://api.example.com"}}') as Record<string, unknown>;
    expect(await attempt(args)).toBe('arguments_out_of_scope');
  });

  test('constructor and prototype arguments are passed through the schema only as data', async () => {
    const before = ran.length;
    expect(await attempt({ url: 'https://api.example.com', constructor: { prototype: { polluted: true } } })).toBe('allowed');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(ran.length).toBe(before + 1);
  });

  test('a tool named __proto__ or constructor cannot be registered', () => {
    expect(() => guardTool(guard, { name: '__proto__', description: 'x', input: z.object({}) }, () => 1)).toThrow(TypeError);
    expect(() => guardTool(guard, { name: 'constructor', description: 'x', input: z.object({}) }, () => 1)).toThrow(TypeError);
  });
});

describe('arguments changed while the call waits (time of check, time of use)', () => {
  test('a nested object mutated during approval changes nothing: the tool runs with the values that were checked and approved', async () => {
    const s = await setup({
      approver: async () => {
        shared.to = 'attacker@evil.example';
        return { approved: true, approver: 'alice' };
      },
    });
    const shared: { to: string } = { to: 'dana@example.com' };
    const bodies: unknown[] = [];
    const send = guardTool(
      s.guard,
      { name: 'email.send', description: 'Send', input: z.object({ message: z.unknown() }), risk: 'external' },
      (args) => {
        bodies.push(args);
      },
    );
    const capability = await s.authority.grant({
      agent: AGENT,
      audience: 'support-app',
      intent: { id: 'i', purpose: 'p' },
      tools: { 'email.send': { args: { message: { fields: { to: { endsWith: '@example.com' } } } } } },
    });
    const code = await send({ message: shared }, { capability }).then(
      () => 'allowed',
      (e: { code: string }) => e.code,
    );
    expect(code).toBe('allowed');
    expect(shared.to).toBe('attacker@evil.example');
    expect(bodies).toEqual([{ message: { to: 'dana@example.com' } }]);
  });
});
