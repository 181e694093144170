import { createHash } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { guardTool } from '../../src/index.js';
import { callEvidence, evidenceHash } from '../../src/telemetry/evidence.js';
import { setup } from '../support/fixtures.js';
import { createSpanCapture } from '../support/otel.js';

const capture = createSpanCapture();
afterEach(() => capture.reset());

// The contract's hash, computed here independently of the module under test.
const h = (cap: string, arg: string, value: string): string =>
  createHash('sha256').update(cap).update('\u0000').update(arg).update('\u0000').update(value).digest('base64url').slice(0, 22);

describe('shapes', () => {
  test('each kind of argument becomes the shape a constraint is written on', () => {
    const e = callEvidence('cap-1', 'Answer ticket 4711', {
      endpoint: 'https://user:pw@api.example.com:8443/v1/x?token=abc#frag',
      to: 'Jane.Doe@Example.COM',
      file: '/srv/data/../reports/q3.csv',
      rel: './notes/today.md',
      home: '~/keys/id_rsa',
      note: 'hello world',
      amount: 12.5,
      urgent: true,
      nothing: null,
      tags: ['a', 2, false, 'https://b.example.org/'],
      meta: { x: 1, y: 2 },
    });
    expect(e).toEqual({
      v: 1,
      purpose: 'Answer ticket 4711',
      args: {
        endpoint: { t: 'url', scheme: 'https', host: 'api.example.com' },
        to: { t: 'email', domain: 'example.com', h: h('cap-1', 'to', 'Jane.Doe@Example.COM') },
        file: { t: 'path', dir: '/srv/reports' },
        rel: { t: 'path', dir: 'notes' },
        home: { t: 'path', dir: '~/keys' },
        note: { t: 'string', len: 11, h: h('cap-1', 'note', 'hello world') },
        amount: { t: 'number', v: 12.5 },
        urgent: { t: 'boolean', v: true },
        nothing: { t: 'null' },
        tags: {
          t: 'array',
          len: 4,
          items: [
            { t: 'string', len: 1, h: h('cap-1', 'tags', 'a') },
            { t: 'number', v: 2 },
            { t: 'boolean', v: false },
            { t: 'url', scheme: 'https', host: 'b.example.org' },
          ],
        },
        meta: { t: 'object', keys: 2 },
      },
    });
  });

  test('a string with "://" that is not a URL, and one with two "@", are plain strings', () => {
    const e = callEvidence('c', 'p', { a: 'not a url :// at all', b: 'a@b@example.com' });
    expect(e.args.a).toMatchObject({ t: 'string', len: 20 });
    expect(e.args.b).toMatchObject({ t: 'string', len: 15 });
  });

  test('arrays keep 16 item shapes and their full length', () => {
    const e = callEvidence('c', 'p', { ids: Array.from({ length: 40 }, (_, i) => i) });
    expect(e.args.ids).toMatchObject({ t: 'array', len: 40 });
    expect(e.args.ids?.t === 'array' && e.args.ids.items).toHaveLength(16);
  });

  test('arrays nested beyond four levels keep their length only', () => {
    const e = callEvidence('c', 'p', { deep: [[[[['secret']]]]] });
    expect(e.args.deep).toEqual({
      t: 'array',
      len: 1,
      items: [{ t: 'array', len: 1, items: [{ t: 'array', len: 1, items: [{ t: 'array', len: 1, items: [{ t: 'array', len: 1, items: [] }] }] }] }],
    });
  });

  test('the hash is salted by capability and argument: the same value hashes differently under another', () => {
    expect(evidenceHash('cap-1', 'to', 'x')).toBe(h('cap-1', 'to', 'x'));
    expect(evidenceHash('cap-2', 'to', 'x')).not.toBe(evidenceHash('cap-1', 'to', 'x'));
    expect(evidenceHash('cap-1', 'cc', 'x')).not.toBe(evidenceHash('cap-1', 'to', 'x'));
    expect(evidenceHash('cap-1', 'to', 'x')).toMatch(/^[\w-]{22}$/);
  });
});

describe('the opt-in', () => {
  const evidenceOf = async (): Promise<(string | undefined)[]> =>
    (await capture.spans()).map((s) => s.attributes['tessera.evidence'] as string | undefined);

  test('off by default', async () => {
    const { guard, readTicket, grant } = await setup({ telemetry: { tracer: capture.tracer } });
    await guard.withCapability(await grant(), () => readTicket({ ticketId: '4711' }));
    expect(await evidenceOf()).toEqual([undefined]);
  });

  test('guard-wide: on allowed calls and on denials that parsed their arguments, salted with the span capability id', async () => {
    const { guard, readTicket, grant } = await setup({ telemetry: { tracer: capture.tracer, evidence: true } });
    const token = await grant();
    await guard.withCapability(token, () => readTicket({ ticketId: '4711' }));
    await guard.withCapability(token, () => readTicket({ ticketId: '9999' })).catch(() => undefined);
    await guard.withCapability(token, () => readTicket({ ticketId: 7 } as never)).catch(() => undefined);
    const spans = await capture.spans();
    const cap = spans[0]!.attributes['tessera.capability.id'] as string;
    expect(spans.map((s) => s.attributes['tessera.denial.code'])).toEqual([undefined, 'arguments_out_of_scope', 'arguments_invalid']);
    expect(JSON.parse(spans[0]!.attributes['tessera.evidence'] as string)).toEqual({
      v: 1,
      purpose: 'Answer ticket 4711',
      args: { ticketId: { t: 'string', len: 4, h: h(cap, 'ticketId', '4711') } },
    });
    expect(JSON.parse(spans[1]!.attributes['tessera.evidence'] as string).args.ticketId.h).toBe(h(cap, 'ticketId', '9999'));
    expect(spans[2]!.attributes).not.toHaveProperty('tessera.evidence');
  });

  test('calls that never parsed their arguments have none: no capability, tool not granted', async () => {
    const { guard, readTicket, grant } = await setup({ telemetry: { tracer: capture.tracer, evidence: true } });
    await readTicket({ ticketId: '4711' }).catch(() => undefined);
    await guard.withCapability(await grant({ tools: { 'email.send': {} } }), () => readTicket({ ticketId: '4711' })).catch(() => undefined);
    expect(await evidenceOf()).toEqual([undefined, undefined]);
  });

  test('per tool, both ways: a tool opts in on a guard without it, and out on a guard with it', async () => {
    const on = await setup({ telemetry: { tracer: capture.tracer } });
    const t1 = guardTool(on.guard, { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read', evidence: true }, () => 1);
    await on.guard.withCapability(await on.grant(), () => t1({ ticketId: '4711' }));
    const off = await setup({ telemetry: { tracer: capture.tracer, evidence: true } });
    const t2 = guardTool(off.guard, { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read', evidence: false }, () => 1);
    await off.guard.withCapability(await off.grant(), () => t2({ ticketId: '4711' }));
    const [first, second] = await evidenceOf();
    expect(JSON.parse(first!).args.ticketId.t).toBe('string');
    expect(second).toBeUndefined();
  });
});

describe('no secret in evidence', () => {
  test('a varied scenario records no token, key, password, full email or raw string', async () => {
    const { guard, grant } = await setup({ telemetry: { tracer: capture.tracer, evidence: true }, mode: 'shadow' });
    const token = await grant({
      tools: {
        'http.fetch': {},
        'email.send': { args: { to: { endsWith: '@example.com' } } },
        'files.write': {},
        'db.query': { maxCalls: 2 },
      },
    });
    const secrets = {
      jwt: token,
      apiKey: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
      awsKey: 'AKIAIOSFODNN7EXAMPLE',
      awsSecret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      password: 'correct horse battery staple',
      privateKey: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----',
      email: 'jane.doe@example.com',
      otherEmail: 'ceo@rival.example.org',
      bearer: 'Bearer ya29.a0AfH6SMBx3kLz9qP',
      query: "SELECT card_number FROM payments WHERE owner = 'jane'",
    };
    const any = z.record(z.string(), z.unknown());
    const fetchTool = guardTool(guard, { name: 'http.fetch', description: 'f', input: any, risk: 'read' }, () => 'ok');
    const send = guardTool(guard, { name: 'email.send', description: 's', input: any, risk: 'write' }, () => 'ok');
    const write = guardTool(guard, { name: 'files.write', description: 'w', input: any, risk: 'write' }, () => 'ok');
    const query = guardTool(guard, { name: 'db.query', description: 'q', input: any, risk: 'read' }, () => 'ok');
    await guard.withCapability(token, async () => {
      await fetchTool({ url: `https://admin:${secrets.password}@api.example.com/v1?api_key=${secrets.apiKey}`, headers: { authorization: secrets.bearer } });
      await fetchTool({ url: `https://api.example.com/cb#access_token=${secrets.jwt}`, token: secrets.jwt });
      await send({ to: secrets.email, cc: [secrets.otherEmail, secrets.email], body: `key ${secrets.awsKey} secret ${secrets.awsSecret}` });
      await send({ to: secrets.otherEmail, subject: secrets.password }); // out of scope: recorded as a would-be denial
      await write({ path: '/etc/app/credentials.json', content: secrets.privateKey, mode: 384 });
      await write({ path: './tmp/x.txt', content: secrets.apiKey, append: true });
      await query({ sql: secrets.query, params: [secrets.email, 42, secrets.apiKey] });
      await query({ sql: secrets.query });
      await query({ sql: secrets.query }); // over maxCalls: a would-be denial, still with evidence
    });
    const spans = await capture.spans();
    const evidence = spans.map((s) => s.attributes['tessera.evidence'] as string);
    expect(evidence.every((e) => typeof e === 'string')).toBe(true);
    expect(spans.map((s) => s.attributes['tessera.denial.code']).filter(Boolean)).toEqual(['arguments_out_of_scope', 'call_limit_exceeded']);
    const all = evidence.join('\n');
    for (const value of Object.values(secrets)) expect(all).not.toContain(value);
    // Fragments: no 8-character run of any secret survives (an email's domain is recorded on purpose).
    for (const value of Object.values(secrets).map((v) => v.replace(/@[\w.-]+$/, ''))) {
      for (let i = 0; i + 8 <= value.length; i += 4) expect(all).not.toContain(value.slice(i, i + 8));
    }
    expect(all).not.toMatch(/eyJ[\w-]{4,}/); // JWT header or payload
    expect(all).not.toMatch(/[\w.+-]+@[\w-]+\.[\w.-]+/); // a full email address
    expect(all).not.toMatch(/sk_live|AKIA|BEGIN PRIVATE|Bearer|admin|SELECT|jane/i);
    // Every string in the evidence is a structural value: a kind, a scheme, a host or domain, a directory, a hash or the purpose.
    const strings: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') strings.push(v);
      else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walk(x);
    };
    for (const e of evidence) walk(JSON.parse(e));
    const allowed = /^(?:[a-z]+|https|api\.example\.com|example\.com|rival\.example\.org|\/etc\/app|tmp|[\w-]{22}|Answer ticket 4711)$/;
    expect(strings.filter((s) => !allowed.test(s))).toEqual([]);
  });
});
