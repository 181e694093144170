import { SignJWT } from 'jose';
import { beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  CapabilityError,
  createAuthority,
  createGuard,
  createRulesEngine,
  delegate,
  createAgentKey,
  generateSigningKey,
  type Authority,
  type Guard,
  type GuardedTool,
  type RulesDocument,
  type SigningKey,
  guardTool,
} from '../../src/index.js';
import { argConstraintSchema, compileConstraint } from '../../src/capability/constraints.js';
import { compilePattern, PATTERN_MAX_INPUT, PATTERN_MAX_PROGRAM, PATTERN_MAX_SOURCE, patternProblem } from '../../src/capability/pattern.js';
import { compileGlob } from '../../src/policy/match.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';

// Each case pins one outcome (a denial code, or allowed) and that the tool body ran only when
// allowed. The time bounds are generous on purpose: the backtracking engine these replace took
// seconds to minutes on the same inputs; RE2 takes well under a millisecond.
const SLOW_MS = 250;

let clock: ReturnType<typeof manualClock>;
let key: SigningKey;
let authority: Authority;
let guard: Guard;
let probe: GuardedTool;
let ran: number;

beforeAll(async () => {
  clock = manualClock();
  key = await generateSigningKey();
  authority = await createAuthority({ issuer: ISSUER, signingKey: key, clock });
  guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, clock });
  ran = 0;
  probe = guardTool(guard, { name: 'probe', description: 'Probe', input: z.record(z.string(), z.unknown()), risk: 'read' }, () => {
    ran++;
    return 'ran';
  });
});

const grantPattern = (pattern: string) =>
  authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { probe: { args: { q: { pattern } } } } });

async function call(capability: string, args: Record<string, unknown>): Promise<{ outcome: string; reason: string; ms: number }> {
  const before = ran;
  const t0 = performance.now();
  const r = await probe(args, { capability }).then(
    () => ({ outcome: 'allowed', reason: '' }),
    (e: { code: string; reason: string }) => ({ outcome: e.code, reason: e.reason }),
  );
  const ms = performance.now() - t0;
  expect(ran - before).toBe(r.outcome === 'allowed' ? 1 : 0);
  return { ...r, ms };
}

describe('catastrophic-backtracking patterns are granted and decide in linear time', () => {
  const cases: [string, string, string, string][] = [
    // pattern, hostile value (denied), matching value (allowed), name
    ['[a-z0-9-]+-[a-z0-9-]+-[a-z0-9-]+', `${'a-'.repeat(400)}!`, 'a-b-c', 'three overlapping dash-separated runs'],
    ['a*a*a*a*a*a*b', 'a'.repeat(500), 'aaab', 'stacked stars'],
    ['(a+)+', `${'a'.repeat(4000)}!`, 'aaaa', 'nested plus'],
    ['(a|aa)+', `${'a'.repeat(4000)}b`, 'aaa', 'overlapping alternation'],
    ['(a|a?)+b', 'a'.repeat(4000), 'aab', 'optional inside a plus'],
    ['(\\w+\\s?)*', `${'word '.repeat(800)}!`, 'two words', 'words and optional spaces'],
    ['(x+x+)+y', 'x'.repeat(4000), 'xxy', 'two plusses in a plus'],
    ['(.*a){12}', `${'a'.repeat(30)}${'b'.repeat(3000)}`, 'aaaaaaaaaaaa', 'repeated greedy dot-star'],
    ['([a-z]+)*@example\\.com', `${'a'.repeat(4000)}@example.org`, 'ab@example.com', 'email-ish with a starred group'],
    ['(?:[^,]*,){20}x', ','.repeat(4000), `${','.repeat(20)}x`, 'csv fields'],
  ];

  test.each(cases)('%s: hostile value denied arguments_out_of_scope', async (pattern, hostile) => {
    const cap = await grantPattern(pattern);
    const r = await call(cap, { q: hostile });
    expect(r.outcome).toBe('arguments_out_of_scope');
    expect(r.ms).toBeLessThan(SLOW_MS);
  });

  test.each(cases)('%s: a matching value is allowed', async (pattern, _hostile, good) => {
    const cap = await grantPattern(pattern);
    expect((await call(cap, { q: good })).outcome).toBe('allowed');
  });

  test('the compiled matcher answers in well under a millisecond per 4096-character value', () => {
    const re = compilePattern('(?:[ab]*a[ab]{60}){2}');
    let s = '';
    for (let i = 0; i < PATTERN_MAX_INPUT; i++) s += (i * 2654435761) % 7 < 3 ? 'a' : 'b';
    for (let i = 0; i < 5; i++) re.test(s); // warm up
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) re.test(s);
    expect((performance.now() - t0) / 20).toBeLessThan(20);
  });
});

describe('the whole value must match', () => {
  test.each([
    ['a|b', 'ab'],
    ['[A-Z]{3}-\\d{4}', 'ABC-1234\n'],
    ['[A-Z]{3}-\\d{4}', 'xABC-1234'],
    ['(?m)^abc$', 'abc\nrm -rf /'],
    ['a.*', 'a\nb'],
    ['\\d+', '１２３'], // fullwidth digits are not \d in RE2
  ])('/%s/ does not accept %j', async (pattern, value) => {
    const cap = await grantPattern(pattern);
    expect((await call(cap, { q: value })).outcome).toBe('arguments_out_of_scope');
  });
});

describe('the input bound', () => {
  test(`a value of exactly ${PATTERN_MAX_INPUT} characters is matched`, async () => {
    const cap = await grantPattern('a+');
    expect((await call(cap, { q: 'a'.repeat(PATTERN_MAX_INPUT) })).outcome).toBe('allowed');
  });

  test('one character more is arguments_out_of_scope with a reason naming the bound', async () => {
    const cap = await grantPattern('a+');
    const r = await call(cap, { q: 'a'.repeat(PATTERN_MAX_INPUT + 1) });
    expect(r.outcome).toBe('arguments_out_of_scope');
    expect(r.reason).toContain(`q must be at most ${PATTERN_MAX_INPUT} characters to be matched against the pattern /a+/`);
  });

  test('the bound counts UTF-16 code units: 2048 astral characters fit, 2049 do not', async () => {
    const cap = await grantPattern('\\p{So}+');
    expect((await call(cap, { q: '😀'.repeat(2048) })).outcome).toBe('allowed');
    expect((await call(cap, { q: '😀'.repeat(2049) })).outcome).toBe('arguments_out_of_scope');
  });
});

describe('patterns RE2 refuses are refused at grant time, naming the field', () => {
  test.each([
    ['a backreference', '(a)\\1'],
    ['a named backreference', '(?<x>a)\\k<x>'],
    ['a lookahead', '(?=a)a'],
    ['a negative lookahead', '(?!a)b'],
    ['a lookbehind', '(?<=a)b'],
    ['a negative lookbehind', '(?<!a)b'],
    ['a possessive quantifier', 'a++'],
    ['an atomic group', '(?>a)'],
    ['\\C (any byte)', '\\C'],
    ['a JavaScript \\u escape', '\\u0041'],
    ['a repeat count above 1000', 'a{1001}'],
    ['nested repeats above 1000 in total', '(?:a{100}){100}'],
    ['an unbalanced group', '(ab'],
    ['a pattern longer than the source bound', `${'a'.repeat(PATTERN_MAX_SOURCE)}b`],
    ['a pattern whose program is too large', '[a-z]{1,200}'],
  ])('%s', async (_name, pattern) => {
    const err = await grantPattern(pattern).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapabilityError);
    expect((err as CapabilityError).code).toBe('grant_invalid');
    expect((err as Error).message).toMatch(/tools\.probe\.args\.q\.pattern: pattern refused: it /);
  });

  test('the program bound names the instruction count and suggests maxLength', () => {
    expect(patternProblem('[a-z]{1,200}')).toMatch(new RegExp(`compiles to \\d+ instructions, more than ${PATTERN_MAX_PROGRAM}.*maxLength`));
  });

  test('a capability signed with a refused pattern is capability_invalid at verify time', async () => {
    const now = Math.floor(clock() / 1000);
    const token = await new SignJWT({
      iss: ISSUER,
      sub: AGENT,
      aud: AUDIENCE,
      iat: now,
      nbf: now,
      exp: now + 300,
      jti: 'jti-pattern-aaaaaaaa',
      intent: { id: 'i', purpose: 'p' },
      tools: { probe: { args: { q: { pattern: '(a)\\1' } } } },
    })
      .setProtectedHeader({ alg: key.alg, typ: 'tessera-cap+jwt', kid: key.kid })
      .sign(key.privateKey);
    const r = await call(token, { q: 'aa' });
    expect(r.outcome).toBe('capability_invalid');
    expect(r.reason).toContain('pattern refused');
  });
});

describe('delegation narrows a pattern only to the identical pattern', () => {
  test('a child with a different (even narrower) pattern is refused; the identical one is accepted', async () => {
    const agentKey = await createAgentKey();
    const parent = await authority.grant({
      agent: AGENT,
      audience: AUDIENCE,
      intent: { id: 'i', purpose: 'p' },
      tools: { probe: { args: { q: { pattern: '[a-z]+' } } } },
      confirmation: { jkt: agentKey.jkt },
    });
    const child = (pattern: string) =>
      delegate(parent, { to: 'spiffe://example.org/agents/sub', tools: { probe: { args: { q: { pattern } } } } }, { key: agentKey, clock });
    const err = await child('[a-c]+').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'delegation_invalid', reason: expect.stringContaining("is not within pattern '[a-z]+'") });
    await expect(child('[a-z]+')).resolves.toMatch(/^ey/);
  });
});

describe('the rules engine matches patterns and globs on the same linear engine', () => {
  async function rulesWorld(doc: RulesDocument, intentId = 'i') {
    const c = manualClock();
    const a = await createAuthority({ issuer: ISSUER, clock: c });
    const g = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => a.jwks() }, clock: c, policy: createRulesEngine(doc) });
    let count = 0;
    const t = guardTool(g, { name: 'probe', description: 'Probe', input: z.record(z.string(), z.unknown()), risk: 'read' }, () => {
      count++;
      return 'ran';
    });
    const cap = await a.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: intentId, purpose: 'p' }, tools: { probe: {} } });
    return async (args: Record<string, unknown>) => {
      const before = count;
      const t0 = performance.now();
      const outcome = await t(args, { capability: cap }).then(
        () => 'allowed',
        (e: { code: string }) => e.code,
      );
      expect(count - before).toBe(outcome === 'allowed' ? 1 : 0);
      return { outcome, ms: performance.now() - t0 };
    };
  }

  const forbidPattern: RulesDocument = {
    version: 1,
    default: 'allow',
    rules: [{ id: 'no-a-runs', effect: 'forbid', args: { q: { pattern: '(a|aa)+' } } }],
  };

  test('a forbid pattern that matches a hostile value denies it (policy_denied) quickly', async () => {
    const run = await rulesWorld(forbidPattern);
    const r = await run({ q: 'a'.repeat(4000) });
    expect(r.outcome).toBe('policy_denied');
    expect(r.ms).toBeLessThan(SLOW_MS);
  });

  test('a forbid pattern that does not match lets the call through quickly', async () => {
    const run = await rulesWorld(forbidPattern);
    const r = await run({ q: `${'a'.repeat(4000)}b` });
    expect(r.outcome).toBe('allowed');
    expect(r.ms).toBeLessThan(SLOW_MS);
  });

  test('a value too long to match against a forbid pattern is forbidden, not waved through', async () => {
    const run = await rulesWorld(forbidPattern);
    expect((await run({ q: `${'a'.repeat(PATTERN_MAX_INPUT)}b` })).outcome).toBe('policy_denied');
  });

  test('a permit pattern never permits a value too long to match', async () => {
    const run = await rulesWorld({ version: 1, rules: [{ id: 'short-a', effect: 'permit', args: { q: { pattern: 'a+' } } }] });
    expect((await run({ q: 'a'.repeat(PATTERN_MAX_INPUT + 1) })).outcome).toBe('policy_denied');
  });

  test('an intent-id glob with many wildcards against a long hostile id decides quickly (policy_denied)', async () => {
    const doc: RulesDocument = { version: 1, rules: [{ id: 'globby', effect: 'permit', intent: { id: ['*a*a*a*a*a*a*a*a*a*a*b'] } }] };
    const run = await rulesWorld(doc, 'a'.repeat(200));
    const r = await run({});
    expect(r.outcome).toBe('policy_denied');
    expect(r.ms).toBeLessThan(SLOW_MS);
  });

  test('globs keep their meaning: * stays inside a segment, ** crosses segments, the rest is literal', () => {
    const cases: [string, string, boolean][] = [
      ['spiffe://example.org/agents/*', 'spiffe://example.org/agents/a', true],
      ['spiffe://example.org/agents/*', 'spiffe://example.org/agents/a/b', false],
      ['spiffe://example.org/**', 'spiffe://example.org/agents/a/b', true],
      ['*.read', 'tickets.read', true],
      ['*.read', 'a/b.read', false],
      ['**.read', 'a/b.read', true],
      ['tickets.*', 'ticketsXread', false],
      ['a*b*c', 'a/b/c', false],
      ['a*b*c', 'axxbyyc', true],
      ['a**b*c', 'a/x/b/yc', false],
      ['a**b*c', 'a/x/byyc', true],
      ['(a+)+*', '(a+)+x', true],
      ['(a+)+*', 'aaa', false],
      ['[ab]*', 'a', false],
      ['x*y', 'x\ny', true],
    ];
    for (const [glob, value, expected] of cases) expect(compileGlob(glob)(value), `${glob} ~ ${JSON.stringify(value)}`).toBe(expected);
  });
});

describe('reasons carry what is needed to fix the call, never the model-supplied value', () => {
  const reason = (c: object, v: unknown) => compileConstraint(argConstraintSchema.parse(c))(v, 'ticketId');

  test.each([
    [{ eq: '4711' }, 4711, 'ticketId must equal "4711" (got a number)'],
    [{ eq: '4711' }, '4712', 'ticketId must equal "4711" (got another string)'],
    [{ eq: 4711 }, '4711', 'ticketId must equal 4711 (got a string of 4 characters)'],
    [{ in: ['a', 'b'] }, true, 'ticketId must be one of "a", "b" (got a boolean)'],
    [{ in: ['a', 'b'] }, 'c', 'ticketId must be one of "a", "b" (got another string)'],
    [{ startsWith: 'T-' }, ['T-1'], 'ticketId must be a string starting with "T-" (got an array of 1 item)'],
    [{ endsWith: '@example.com' }, 'a@evil.com', 'ticketId must be a string ending with "@example.com" (got a string of 10 characters that does not)'],
    [{ min: 1, max: 10 }, '5', 'ticketId must be a number >= 1 <= 10 (got a string of 1 character)'],
    [{ min: 1, max: 10 }, 11, 'ticketId must be a number >= 1 <= 10 (got a number above the maximum)'],
    [{ min: 1 }, 0, 'ticketId must be a number >= 1 (got a number below the minimum)'],
    [{ maxLength: 3 }, null, 'ticketId must be a string or array of length <= 3 (got null)'],
    [{ pattern: '\\d+' }, { a: 1 }, 'ticketId must be a string matching the pattern /\\d+/ in full (got an object)'],
    [{ pattern: '\\d+' }, 'x', 'ticketId must match the pattern /\\d+/ in full (got a string of 1 character that does not)'],
    [{ fields: { a: { eq: 1 } } }, 'x', 'ticketId must be an object (got a string of 1 character)'],
  ])('%j with %j', (c, v, expected) => {
    expect(reason(c, v)).toBe(expected);
  });

  test('a long or secret-looking value never appears in the reason, whatever the rule', () => {
    const secret = `sk_live_${'Q'.repeat(5000)}`;
    const rules: object[] = [
      { eq: 'x' },
      { in: ['x'] },
      { startsWith: 'x' },
      { endsWith: 'x' },
      { maxLength: 3 },
      { pattern: '\\d+' },
      { pathWithin: '/srv' },
      { hostIn: ['example.com'] },
    ];
    for (const c of rules) {
      const why = reason(c, secret) ?? '';
      expect(why, JSON.stringify(c)).not.toContain('sk_live');
      expect(why, JSON.stringify(c)).not.toContain('QQQQ');
      expect(why.length, JSON.stringify(c)).toBeLessThan(400);
    }
  });
});

describe('further documented behaviour of patterns and constraints', () => {
  test('(?s) lets . match a newline', async () => {
    const cap = await grantPattern('(?s)a.*');
    expect((await call(cap, { q: 'a\nb' })).outcome).toBe('allowed');
  });

  test('a pattern is compiled once and shared by every capability that carries it', () => {
    expect(compilePattern('[0-9]+-shared')).toBe(compilePattern('[0-9]+-shared'));
  });

  test('in takes 1 to 1000 values; maxLength counts UTF-16 code units', () => {
    expect(argConstraintSchema.safeParse({ in: [] }).success).toBe(false);
    expect(argConstraintSchema.safeParse({ in: Array.from({ length: 1001 }, (_, i) => i) }).success).toBe(false);
    expect(argConstraintSchema.safeParse({ in: Array.from({ length: 1000 }, (_, i) => i) }).success).toBe(true);
    expect(compileConstraint({ maxLength: 1 })('\ud83d\ude00', 'q')).toBe('q must be a string or array of length <= 1 (got a string of 2 characters)');
  });

  test('values from the grant are cut to 80 characters in a reason', () => {
    const long = 'x'.repeat(200);
    const why = compileConstraint({ eq: long })('y', 'q')!;
    expect(why).toBe(`q must equal ${JSON.stringify(long).slice(0, 77)}... (got another string)`);
  });
});
