/**
 * The guard takes ONE deeply frozen snapshot of the parsed arguments, as plain JSON data, and
 * checks, hashes, shows to the approver, binds into the credential and hands to the tool that
 * snapshot. Loose schemas (z.unknown, z.any, z.record) let the caller's own objects through
 * parsing; none of these tricks can make what runs differ from what was checked. Each case pins
 * one outcome.
 */
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { ToolDeniedError } from '../../src/errors.js';
import { createAgentKey } from '../../src/identity/agent-key.js';
import { createProofBinding } from '../../src/identity/proof-binding.js';
import type { GuardOptions } from '../../src/index.js';
import { hashArguments } from '../../src/util/canonical.js';
import { AGENT, AUDIENCE, setup } from '../support/fixtures.js';
import { guardTool } from '../../src/index.js';
import { denial } from '../support/outcomes.js';

interface Received {
  args: Record<string, unknown>;
  token: string;
}

/** A mail tool whose `message` is anything; the grant constrains `message.to`. */
async function mailSetup(overrides: Partial<GuardOptions> = {}, input: z.ZodType = z.object({ message: z.unknown() })) {
  const s = await setup(overrides);
  const received: Received[] = [];
  const send = guardTool(s.guard, { name: 'mail.send', description: 'Send', input, risk: 'write' }, async (args, ctx) => {
    received.push({ args: args as Record<string, unknown>, token: ctx.credential.token });
    return 'sent';
  });
  const capability = await s.authority.grant({
    agent: AGENT,
    audience: AUDIENCE,
    intent: { id: 'i', purpose: 'p' },
    tools: { 'mail.send': { args: { message: { fields: { to: { endsWith: '@example.com' } } } } } },
  });
  const call = (args: unknown) => send(args as never, { capability });
  return { ...s, send, capability, call, received };
}


describe('values the caller can change after the check', () => {
  test('a getter answering differently on each read: arguments_invalid naming its path, nothing runs', async () => {
    const m = await mailSetup();
    let reads = 0;
    const message = {
      get to() {
        return reads++ === 0 ? 'dana@example.com' : 'attacker@evil.example';
      },
    };
    const err = await denial(m.call({ message }));
    expect(err.code).toBe('arguments_invalid');
    expect(err.reason).toBe('the arguments are not plain JSON data at message.to: a getter (accessor property) is not plain data');
    expect(reads).toBe(0);
    expect(m.received).toEqual([]);
  });

  test('an object with its own toJSON: arguments_invalid, nothing runs', async () => {
    const m = await mailSetup();
    const message = { to: 'dana@example.com', toJSON: () => ({ to: 'other@example.com' }) };
    const err = await denial(m.call({ message }));
    expect(err.code).toBe('arguments_invalid');
    expect(err.reason).toContain('at message.toJSON: a function is not JSON data');
    expect(m.received).toEqual([]);
  });

  test('a hidden (non-enumerable) toJSON is not part of the data: the tool gets the plain values only', async () => {
    const m = await mailSetup();
    const message = { to: 'dana@example.com' };
    Object.defineProperty(message, 'toJSON', { value: () => ({ to: 'attacker@evil.example' }), enumerable: false });
    await m.call({ message });
    expect(m.received[0]!.args).toEqual({ message: { to: 'dana@example.com' } });
    expect(Object.hasOwn(m.received[0]!.args.message as object, 'toJSON')).toBe(false);
  });

  test('a Proxy: arguments_invalid, and none of its traps runs', async () => {
    const m = await mailSetup();
    let trapped = 0;
    const message = new Proxy(
      { to: 'dana@example.com' },
      {
        get: (t, k) => {
          trapped++;
          return Reflect.get(t, k);
        },
        getOwnPropertyDescriptor: (t, k) => {
          trapped++;
          return Reflect.getOwnPropertyDescriptor(t, k);
        },
        ownKeys: (t) => {
          trapped++;
          return Reflect.ownKeys(t);
        },
      },
    );
    const err = await denial(m.call({ message }));
    expect(err.code).toBe('arguments_invalid');
    expect(err.reason).toContain('at message: a Proxy is not plain JSON data');
    expect(trapped).toBe(0);
    expect(m.received).toEqual([]);
  });

  test('an object mutated while an asynchronous policy decides: the tool runs with the values that were checked', async () => {
    const shared = { to: 'dana@example.com' };
    const m = await mailSetup({
      policy: {
        name: 'slow',
        evaluate: async () => {
          shared.to = 'attacker@evil.example';
          return { effect: 'allow' };
        },
      },
    });
    await m.call({ message: shared });
    expect(m.received[0]!.args).toEqual({ message: { to: 'dana@example.com' } });
  });

  test('an object mutated while the tool runs: the tool still sees the checked values, and cannot change them either', async () => {
    const s = await setup();
    const shared = { to: 'dana@example.com' };
    const seen: unknown[] = [];
    let mutate: () => void = () => {};
    const mutated = new Promise<void>((resolve) => {
      mutate = () => {
        shared.to = 'attacker@evil.example';
        resolve();
      };
    });
    const send = guardTool(
      s.guard,
      { name: 'mail.send', description: 'Send', input: z.object({ message: z.unknown() }) },
      async (args: { message: unknown }) => {
        mutate();
        await mutated;
        seen.push(structuredClone(args));
        expect(() => {
          (args.message as { to: string }).to = 'x@example.com';
        }).toThrow(TypeError);
        return Object.isFrozen(args) && Object.isFrozen(args.message);
      },
    );
    const capability = await s.authority.grant({
      agent: AGENT,
      audience: AUDIENCE,
      intent: { id: 'i', purpose: 'p' },
      tools: { 'mail.send': { args: { message: { fields: { to: { endsWith: '@example.com' } } } } } },
    });
    await expect(send({ message: shared }, { capability })).resolves.toBe(true);
    expect(seen).toEqual([{ message: { to: 'dana@example.com' } }]);
    expect(shared.to).toBe('attacker@evil.example');
  });

  test('the approver sees, and the credential binds, the same snapshot the tool gets', async () => {
    const previews: unknown[] = [];
    const hashes: string[] = [];
    const shared = { to: 'dana@example.com', note: 'hi' };
    const m = await mailSetup({
      approver: async (r) => {
        previews.push(r.argsPreview);
        hashes.push(r.argsHash);
        shared.to = 'attacker@evil.example';
        return { approved: true };
      },
      policy: { name: 'ask', evaluate: () => ({ effect: 'require_approval', reason: 'always ask' }) },
    });
    await m.call({ message: shared });
    const expected = { message: { to: 'dana@example.com', note: 'hi' } };
    expect(m.received[0]!.args).toEqual(expected);
    expect(previews).toEqual([{ message: '{"to":"dana@example.com","note":"hi"}' }]);
    expect(hashes).toEqual([hashArguments(expected)]);
    // The credential was revoked when the call ended; its claims are read here, not verified.
    const claims = JSON.parse(Buffer.from(m.received[0]!.token.split('.')[1]!, 'base64url').toString()) as { args_sha256: string };
    expect(claims.args_sha256).toBe(hashArguments(expected));
  });
});

describe('values that are not plain JSON data', () => {
  test.each([
    ['a Date', () => ({ to: 'a@example.com', at: new Date(0) }), 'message.at: a Date is not plain JSON data'],
    ['a Map', () => ({ to: 'a@example.com', m: new Map() }), 'message.m: a Map is not plain JSON data'],
    ['a class instance', () => ({ to: 'a@example.com', x: new (class Widget {})() }), 'message.x: a Widget is not plain JSON data'],
    ['NaN', () => ({ to: 'a@example.com', n: Number.NaN }), 'message.n: a non-finite number is not JSON data'],
    ['Infinity', () => ({ to: 'a@example.com', list: [1, Number.POSITIVE_INFINITY] }), 'message.list[1]: a non-finite number is not JSON data'],
    ['a bigint', () => ({ to: 'a@example.com', n: 1n }), 'message.n: a bigint is not JSON data'],
    ['a symbol', () => ({ to: 'a@example.com', s: Symbol('x') }), 'message.s: a symbol is not JSON data'],
    ['a function', () => ({ to: 'a@example.com', f: () => 1 }), 'message.f: a function is not JSON data'],
    ['an array hole', () => ({ to: 'a@example.com', list: [1, , 3] }), 'message.list[1]: an array with holes is not JSON data'],
    ['an undefined array item', () => ({ to: 'a@example.com', list: [undefined] }), 'message.list[0]: undefined is not JSON data'],
    ['a "__proto__" key', () => JSON.parse('{"to":"a@example.com","__proto__":{"admin":true}}') as unknown, 'message.__proto__: the key "__proto__" is reserved'],
    ['an object whose prototype is a Proxy', () => ({ to: 'a@example.com', p: Object.create(new Proxy({}, { getOwnPropertyDescriptor: () => { throw new Error('trap ran'); } })) as unknown }), 'message.p: an object with a foreign prototype is not plain JSON data'],
    ['a key that is not an identifier', () => ({ to: 'a@example.com', 'x y': { at: new Date(0) } }), 'message["x y"].at: a Date is not plain JSON data'],
  ])('%s: arguments_invalid naming the path, nothing runs', async (_name, make, where) => {
    const m = await mailSetup();
    const err = await denial(m.call({ message: make() }));
    expect(err.code).toBe('arguments_invalid');
    expect(err.reason).toBe(`the arguments are not plain JSON data at ${where}`);
    expect(m.received).toEqual([]);
  });

  test('an array index defined as a getter: arguments_invalid, the getter never runs', async () => {
    const m = await mailSetup();
    let reads = 0;
    const list: unknown[] = [];
    Object.defineProperty(list, 0, { get: () => ++reads, enumerable: true });
    const err = await denial(m.call({ message: { to: 'a@example.com', list } }));
    expect(err.reason).toBe('the arguments are not plain JSON data at message.list[0]: a getter (accessor property) is not plain data');
    expect(reads).toBe(0);
  });

  test('a cycle: arguments_invalid', async () => {
    const m = await mailSetup();
    const message: Record<string, unknown> = { to: 'a@example.com' };
    message.self = message;
    const err = await denial(m.call({ message }));
    expect(err.reason).toBe('the arguments are not plain JSON data at message.self: the arguments contain a cycle');
  });

  test('a shared (acyclic) reference is plain data: copied, allowed', async () => {
    const m = await mailSetup();
    const part = { k: 1 };
    await m.call({ message: { to: 'a@example.com', a: part, b: part } });
    expect(m.received[0]!.args).toEqual({ message: { to: 'a@example.com', a: { k: 1 }, b: { k: 1 } } });
  });

  test('nesting deeper than 64 levels: arguments_invalid', async () => {
    const m = await mailSetup();
    let deep: unknown = 'x';
    for (let i = 0; i < 80; i++) deep = [deep];
    const err = await denial(m.call({ message: { to: 'a@example.com', deep } }));
    expect(err.reason).toMatch(/nest deeper than 64 levels$/);
  });

  test('more than 100,000 values: arguments_invalid', async () => {
    const m = await mailSetup();
    const err = await denial(m.call({ message: { to: 'a@example.com', list: new Array<number>(100_001).fill(1) } }));
    expect(err.reason).toMatch(/hold more than 100000 values$/);
  });

  test('a null-prototype object is plain data: the tool gets an ordinary frozen object', async () => {
    const m = await mailSetup();
    const message = Object.assign(Object.create(null) as Record<string, unknown>, { to: 'a@example.com' });
    await m.call({ message });
    const got = m.received[0]!.args.message as object;
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(Object.isFrozen(got)).toBe(true);
  });
});

describe('schemas that pass the whole argument object through', () => {
  test.each([
    ['z.record', z.record(z.string(), z.unknown())],
    ['z.any', z.any()],
    ['z.looseObject', z.looseObject({})],
  ] as const)('%s: the tool gets a frozen copy, never the caller object', async (_name, input) => {
    const m = await mailSetup({}, input);
    const args = { message: { to: 'a@example.com' } };
    await m.call(args);
    const got = m.received[0]!.args;
    expect(got).toEqual(args);
    expect(got).not.toBe(args);
    expect(got.message).not.toBe(args.message);
    expect(Object.isFrozen(got) && Object.isFrozen(got.message)).toBe(true);
    expect(Object.isFrozen(args)).toBe(false);
  });
});

describe('proof of possession sees the same arguments as the schema and the tool', () => {
  test('a stolen, unused proof replayed with arguments that flip between reads: arguments_invalid, nothing runs', async () => {
    const s = await setup();
    const key = await createAgentKey('EdDSA', { clock: s.clock });
    const cap = await s.grant({ confirmation: { jkt: key.jkt }, tools: { 'tickets.read': { args: { ticketId: { in: ['4711', '4712'] } } } } });
    // The agent signed a proof for ticket 4711; the attacker wants 4712 to run under it.
    const proof = key.prove(createProofBinding({ capability: cap, tool: 'tickets.read', callId: 'c1', args: { ticketId: '4711' }, audience: AUDIENCE }));
    let reads = 0;
    const flipping = {
      get ticketId() {
        return reads++ === 0 ? '4712' : '4711';
      },
    };
    const err = await denial(s.readTicket(flipping as never, { capability: cap, callId: 'c1', proof }));
    expect(err.code).toBe('arguments_invalid');
    expect(reads).toBe(0);
    expect(s.ran).toEqual([]);
  });

  test('a proof over plain arguments still verifies against their snapshot', async () => {
    const s = await setup();
    const key = await createAgentKey('EdDSA', { clock: s.clock });
    const cap = await s.grant({ confirmation: { jkt: key.jkt } });
    const args = { ticketId: '4711' };
    const proof = key.prove(createProofBinding({ capability: cap, tool: 'tickets.read', callId: 'c1', args, audience: AUDIENCE }));
    await expect(s.readTicket(args, { capability: cap, callId: 'c1', proof })).resolves.toMatchObject({ id: '4711' });
  });
});
