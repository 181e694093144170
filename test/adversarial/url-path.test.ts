import { beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAgentKey, createAuthority, createGuard, createRulesEngine, delegate, type Authority, type GuardedTool, type RulesDocument, guardTool } from '../../src/index.js';
import { argConstraintSchema, type ArgConstraint } from '../../src/capability/constraints.js';
import { constraintWithin } from '../../src/capability/subsumption.js';
import { PATH_MAX_INPUT } from '../../src/capability/path-within.js';
import { parseStrictUrl, URL_MAX_INPUT } from '../../src/capability/url-host.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';

// The tool's schema takes any JSON so that the grant's constraints alone stand between the
// model's arguments and the tool. Every case pins one outcome and whether the body ran.

let clock: ReturnType<typeof manualClock>;
let authority: Authority;
let fetchTool: GuardedTool;
let ran: number;
let cap: string;

beforeAll(async () => {
  clock = manualClock();
  authority = await createAuthority({ issuer: ISSUER, clock });
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => authority.jwks() }, clock });
  ran = 0;
  fetchTool = guardTool(guard, { name: 'fetch', description: 'Fetch', input: z.record(z.string(), z.unknown()), risk: 'read' }, () => {
    ran++;
    return 'ran';
  });
  cap = await authority.grant({
    agent: AGENT,
    audience: AUDIENCE,
    intent: { id: 'i', purpose: 'p' },
    tools: {
      fetch: {
        args: {
          url: { hostIn: ['api.example.com', '*.cdn.example.com', '192.0.2.10'], optional: true },
          socket: { hostIn: ['api.example.com'], schemes: ['wss'], optional: true },
          path: { pathWithin: '/srv/data', optional: true },
          rel: { pathWithin: '/srv/data', unsafeAllowRelative: true, optional: true },
        },
      },
    },
  });
});

async function outcome(args: Record<string, unknown>): Promise<string> {
  const before = ran;
  const r = await fetchTool(args, { capability: cap }).then(
    () => 'allowed',
    (e: { code: string }) => e.code,
  );
  expect(ran - before).toBe(r === 'allowed' ? 1 : 0);
  return r;
}

describe('hostIn: URLs every parser reads alike, with a listed host', () => {
  test.each([
    ['a listed host', 'https://api.example.com/v1'],
    ['a listed host with no path', 'https://api.example.com'],
    ['a port (ports are not checked)', 'https://api.example.com:8443/v1'],
    ["'@' in the query", 'https://api.example.com/v1?to=a@b.example'],
    ["'@' in the fragment", 'https://api.example.com#@evil.example'],
    ['percent-escapes in the path', 'https://api.example.com/a%20b'],
    ['a subdomain under a *. entry', 'https://img.cdn.example.com/x.png'],
    ['a deeper subdomain under a *. entry', 'https://a.b.cdn.example.com/x.png'],
    ['a listed dotted-decimal IPv4 address', 'https://192.0.2.10/'],
  ])('allowed: %s', async (_name, url) => {
    expect(await outcome({ url })).toBe('allowed');
  });

  test.each([
    ['backslash before @ (WHATWG: api.example.com, RFC 3986: evil.example)', 'https://api.example.com\\@evil.example/'],
    ['backslash as a path separator', 'https://evil.example\\api.example.com/'],
    ['userinfo naming the listed host', 'https://api.example.com@evil.example/'],
    ['userinfo before the listed host', 'https://evil.example@api.example.com/'],
    ['empty userinfo', 'https://@api.example.com/'],
    ['port-looking userinfo', 'https://api.example.com:443@evil.example/'],
    ['tab inside the host (WHATWG strips it)', 'https://api.exa\tmple.com/'],
    ['newline inside the host (WHATWG strips it)', 'https://api.exa\nmple.com/'],
    ['leading space (WHATWG trims it)', ' https://api.example.com/'],
    ['trailing space', 'https://api.example.com/ '],
    ['NUL in the host', 'https://api.example.com\u0000.evil.example/'],
    ['percent-encoded dot in the host', 'https://api%2eexample.com/'],
    ['percent-encoded letter in the host', 'https://%61pi.example.com/'],
    ['percent-encoded slash after the host', 'https://evil.example%2f.api.example.com/'],
    ['malformed percent-escape', 'https://api.example.com/%zz'],
    ['trailing dot on the host', 'https://api.example.com./'],
    ['empty label', 'https://api..example.com/'],
    ['ideographic full stop (WHATWG maps it to a dot)', 'https://api\u3002example.com/'],
    ['fullwidth full stop', 'https://api\uff0eexample.com/'],
    ['fullwidth letters (WHATWG maps them to ASCII)', 'https://\uff41pi.example.com/'],
    ['Cyrillic look-alike', 'https://\u0430pi.example.com/'],
    ['zero-width space', 'https://api.example.com\u200b/'],
    ['uppercase host', 'https://API.example.com/'],
    ['uppercase scheme', 'HTTPS://api.example.com/'],
    ['IPv6 literal', 'https://[::1]/'],
    ['bracketed name', 'https://[api.example.com]/'],
    ['bracket in the path', 'https://api.example.com/[x]'],
    ['no slashes after the scheme (WHATWG still finds the host)', 'https:api.example.com/'],
    ['one slash after the scheme', 'https:/api.example.com/'],
    ['three slashes after the scheme', 'https:///api.example.com/'],
    ['scheme-relative', '//api.example.com/'],
    ['no scheme', 'api.example.com/v1'],
    ['port out of range', 'https://api.example.com:99999/'],
    ['empty port', 'https://api.example.com:/'],
    ['decimal-number host equal to a listed address', 'https://3221225994/'],
    ['hex label host equal to a listed address', 'https://0xc0.0.2.10/'],
    ['octal-looking label (WHATWG reads 010 as 8)', 'https://192.0.2.010/'],
    ['short IPv4 form', 'https://192.0.522/'],
    ['trailing dot on an address', 'https://192.0.2.10./'],
    ['the bare parent of a *. entry', 'https://cdn.example.com/'],
    ['a listed host as a prefix of another', 'https://api.example.com.evil.example/'],
    ['plain http', 'http://api.example.com/'],
    ['javascript: with slashes', 'javascript://api.example.com/%0aalert(1)'],
    ['a quote in the path', 'https://api.example.com/"x'],
    ['a brace in the query', 'https://api.example.com/?{x}'],
    ['longer than the bound', `https://api.example.com/${'a'.repeat(URL_MAX_INPUT)}`],
  ])('denied arguments_out_of_scope: %s', async (_name, url) => {
    expect(await outcome({ url })).toBe('arguments_out_of_scope');
  });

  test('schemes widens the scheme only: wss to a listed host is allowed, https is not', async () => {
    expect(await outcome({ socket: 'wss://api.example.com/live' })).toBe('allowed');
    expect(await outcome({ socket: 'https://api.example.com/live' })).toBe('arguments_out_of_scope');
  });

  test('a URL exactly at the bound is judged on its host', async () => {
    const base = 'https://api.example.com/';
    expect(await outcome({ url: base + 'a'.repeat(URL_MAX_INPUT - base.length) })).toBe('allowed');
  });
});

describe('pathWithin: an absolute path under the root, in a form no later step can change', () => {
  test.each([
    ['the root', '/srv/data'],
    ['the root with a trailing slash', '/srv/data/'],
    ['a file below', '/srv/data/reports/q3.csv'],
    ['doubled slashes inside', '/srv/data//reports///q3.csv'],
    ['a . segment', '/srv/data/./q3.csv'],
    ['a name that starts with two dots', '/srv/data/..hidden'],
    ['a harmless percent-escape', '/srv/data/my%20file.txt'],
    ['a lone percent sign', '/srv/data/100%'],
    ['non-ASCII letters', '/srv/data/caf\u00e9.txt'],
  ])('allowed: %s', async (_name, path) => {
    expect(await outcome({ path })).toBe('allowed');
  });

  test.each([
    ['a relative path', 'reports/q3.csv'],
    ['a ./ relative path', './reports/q3.csv'],
    ['parent traversal', '../etc/passwd'],
    ['absolute traversal', '/srv/data/../etc/passwd'],
    ['a .. segment that stays inside (symbolic links resolve it elsewhere)', '/srv/data/a/../b'],
    ['a sibling with the root as prefix', '/srv/database/x'],
    ['the root parent', '/srv'],
    ['elsewhere', '/etc/passwd'],
    ['a leading double slash', '//srv/data/x'],
    ['encoded dots', '/srv/data/%2e%2e/etc'],
    ['encoded dots, uppercase hex', '/srv/data/%2E%2E/etc'],
    ['encoded slash', '/srv/data/x%2f..%2f..%2fetc'],
    ['encoded backslash', '/srv/data/x%5c..'],
    ['encoded NUL', '/srv/data/x%00.txt'],
    ['encoded newline', '/srv/data/x%0a'],
    ['double-encoded dots', '/srv/data/%252e%252e/etc'],
    ['triple-encoded dots', '/srv/data/%25252e%25252e/etc'],
    ['double-encoded slash', '/srv/data/x%252f..'],
    ['an escape assembled by decoding (%%32%65)', '/srv/data/%%32%65%%32%65/etc'],
    ['overlong UTF-8 dot', '/srv/data/%c0%ae%c0%ae/etc'],
    ['three-byte overlong dot', '/srv/data/%e0%80%ae%e0%80%ae/etc'],
    ['invalid UTF-8 escape', '/srv/data/%ff'],
    ['IIS %u escape', '/srv/data/%u002e%u002e/etc'],
    ['fullwidth dots', '/srv/data/\uff0e\uff0e/etc'],
    ['two-dot leader', '/srv/data/\u2025/etc'],
    ['fullwidth solidus', '/srv/data/x\uff0f..'],
    ['fullwidth reverse solidus', '/srv/data/x\uff3c..'],
    ['percent-encoded fullwidth dots', '/srv/data/%ef%bc%8e%ef%bc%8e/etc'],
    ['fullwidth percent and digits', '/srv/data/\uff05\uff12\uff45'],
    ['backslash traversal', '/srv/data/..\\..\\etc'],
    ['backslash alone', '/srv/data\\x'],
    ['NUL', '/srv/data/x\u0000.txt'],
    ['newline', '/srv/data/x\n'],
    ['C1 control (NEL)', '/srv/data/x\u0085'],
    ['DEL', '/srv/data/x\u007f'],
    ['unpaired surrogate', '/srv/data/\ud800'],
    ['empty', ''],
    ['longer than the bound', `/srv/data/${'a'.repeat(PATH_MAX_INPUT)}`],
  ])('denied arguments_out_of_scope: %s', async (_name, path) => {
    expect(await outcome({ path })).toBe('arguments_out_of_scope');
  });

  test.each([
    ['a relative path', 'reports/q3.csv', 'allowed'],
    ['a ./ relative path', './reports/q3.csv', 'allowed'],
    ['an absolute path inside', '/srv/data/q3.csv', 'allowed'],
    ['a relative traversal', '../etc/passwd', 'arguments_out_of_scope'],
    ['a relative .. inside', 'sub/../q3.csv', 'arguments_out_of_scope'],
    ['an absolute path outside', '/etc/passwd', 'arguments_out_of_scope'],
    ['encoded dots in a relative path', '%2e%2e/etc', 'arguments_out_of_scope'],
  ])('with unsafeAllowRelative, %s is %s', async (_name, rel, expected) => {
    expect(await outcome({ rel })).toBe(expected);
  });

  test('the reason names the root and the problem without repeating the path', async () => {
    const err = await fetchTool({ path: '/srv/data/%252e%252e/secret-name' }, { capability: cap }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'arguments_out_of_scope' });
    const reason = (err as { reason: string }).reason;
    expect(reason).toContain("path must be an absolute path within /srv/data, but it contains a percent-escape of '.', '/', '\\', '%' or a control character");
    expect(reason).not.toContain('secret-name');
  });
});

describe('the grant schema', () => {
  test.each([
    ['a hex IPv4 entry', { hostIn: ['0x7f.1'] }],
    ['a short IPv4 entry', { hostIn: ['127.1'] }],
    ['a wildcard over an address', { hostIn: ['*.0.0.1'] }],
    ['a label over 63 characters', { hostIn: [`${'a'.repeat(64)}.example.com`] }],
    ['an uppercase entry', { hostIn: ['API.example.com'] }],
    ['unsafeAllowRelative without pathWithin', { maxLength: 3, unsafeAllowRelative: true }],
    ['unsafeAllowRelative alone', { unsafeAllowRelative: true }],
    ['a relative root', { pathWithin: 'srv/data' }],
  ])('refuses %s', (_name, c) => {
    expect(argConstraintSchema.safeParse(c).success).toBe(false);
  });

  test('accepts a dotted-decimal IPv4 entry and unsafeAllowRelative with pathWithin', () => {
    expect(argConstraintSchema.safeParse({ hostIn: ['192.0.2.10'] }).success).toBe(true);
    expect(argConstraintSchema.safeParse({ pathWithin: '/srv', unsafeAllowRelative: true }).success).toBe(true);
  });
});

describe('delegation with unsafeAllowRelative', () => {
  const within = (child: ArgConstraint, parent: ArgConstraint) => constraintWithin(child, parent, 'fetch.path');

  test.each<[string, ArgConstraint, ArgConstraint, boolean]>([
    ['absolute-only child under an absolute-only parent root', { pathWithin: '/data/x' }, { pathWithin: '/data' }, true],
    ['absolute-only child under a relative-allowing parent', { pathWithin: '/data/x' }, { pathWithin: '/data', unsafeAllowRelative: true }, true],
    ['relative-allowing child, same root, relative-allowing parent', { pathWithin: '/data', unsafeAllowRelative: true }, { pathWithin: '/data', unsafeAllowRelative: true }, true],
    ['relative-allowing child under an absolute-only parent', { pathWithin: '/data', unsafeAllowRelative: true }, { pathWithin: '/data' }, false],
    ['relative-allowing child under a narrower root', { pathWithin: '/data/x', unsafeAllowRelative: true }, { pathWithin: '/data', unsafeAllowRelative: true }, false],
    ['relative-allowing child that demands a leading /', { pathWithin: '/data/x', unsafeAllowRelative: true, startsWith: '/' }, { pathWithin: '/data' }, true],
    ['a relative eq under an absolute-only parent', { eq: 'x' }, { pathWithin: '/data' }, false],
    ['a relative eq under a relative-allowing parent', { eq: 'x' }, { pathWithin: '/data', unsafeAllowRelative: true }, true],
    ['an absolute eq under an absolute-only parent', { eq: '/data/x' }, { pathWithin: '/data' }, true],
  ])('%s: narrowing %s', (_name, child, parent, ok) => {
    const why = within(child, parent);
    if (ok) expect(why).toBeUndefined();
    else expect(why).toMatch(/^fetch\.path: .* is not within pathWithin '\/data'/);
  });

  test('delegate refuses a child that starts accepting relative paths', async () => {
    const key = await createAgentKey();
    const parent = await authority.grant({
      agent: AGENT,
      audience: AUDIENCE,
      intent: { id: 'i', purpose: 'p' },
      tools: { fetch: { args: { path: { pathWithin: '/srv/data' } } } },
      confirmation: { jkt: key.jkt },
    });
    const err = await delegate(parent, { to: 'spiffe://example.org/agents/sub', tools: { fetch: { args: { path: { pathWithin: '/srv/data', unsafeAllowRelative: true } } } } }, { key, clock }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'delegation_invalid', reason: expect.stringContaining('which refuses relative paths') });
  });
});

describe('forbid rules treat a URL or path they cannot judge as forbidden', () => {
  async function rulesWorld(doc: RulesDocument) {
    const c = manualClock();
    const a = await createAuthority({ issuer: ISSUER, clock: c });
    const g = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => a.jwks() }, clock: c, policy: createRulesEngine(doc) });
    let count = 0;
    const t = guardTool(g, { name: 'fetch', description: 'Fetch', input: z.record(z.string(), z.unknown()), risk: 'read' }, () => {
      count++;
      return 'ran';
    });
    const capability = await a.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { fetch: {} } });
    return async (args: Record<string, unknown>) => {
      const before = count;
      const r = await t(args, { capability }).then(
        () => 'allowed',
        (e: { code: string }) => e.code,
      );
      expect(count - before).toBe(r === 'allowed' ? 1 : 0);
      return r;
    };
  }

  const docs: Record<string, RulesDocument> = {
    url: { version: 1, default: 'allow', rules: [{ id: 'no-evil', effect: 'forbid', args: { url: { hostIn: ['evil.example'], schemes: ['https', 'http'] } } }] },
    path: { version: 1, default: 'allow', rules: [{ id: 'no-secrets', effect: 'forbid', args: { path: { pathWithin: '/secrets' } } }] },
  };

  test.each([
    ['a listed URL', { url: 'https://evil.example/' }, 'policy_denied'],
    ['the listed host in uppercase', { url: 'https://EVIL.example/' }, 'policy_denied'],
    ['the listed host behind a backslash trick', { url: 'https://ok.example\\@evil.example/' }, 'policy_denied'],
    ['the listed host with a trailing dot', { url: 'https://evil.example./' }, 'policy_denied'],
    ['another host', { url: 'https://ok.example/' }, 'allowed'],
    ['a path under the forbidden root', { path: '/secrets/key' }, 'policy_denied'],
    ['a traversal into the forbidden root', { path: '/srv/../secrets/key' }, 'policy_denied'],
    ['a relative path (resolved who knows where)', { path: 'key' }, 'policy_denied'],
    ['an encoded path', { path: '/srv/%2e%2e/secrets' }, 'policy_denied'],
    ['a path elsewhere', { path: '/srv/data/x' }, 'allowed'],
  ])('%s: %s', async (_name, args, expected) => {
    const run = await rulesWorld(docs[Object.keys(args)[0]!]!);
    expect(await run(args)).toBe(expected);
  });
});

describe('further documented behaviour of hostIn and pathWithin', () => {
  test.each(['https://0x7f.1/', 'https://2130706433/', 'https://127.1/', 'https://010.0.0.1/'])('%s is refused as a non-canonical numeric host', (url) => {
    expect(parseStrictUrl(url)).toBe('has a numeric host that is not a dotted-decimal IPv4 address such as 192.0.2.1');
  });

  test.each(['https://api.example.com/<x>', 'https://api.example.com/a|b', 'https://api.example.com/^', 'https://api.example.com/`'])('%s is denied arguments_out_of_scope', async (url) => {
    expect(await outcome({ url })).toBe('arguments_out_of_scope');
  });

  test('an international name below a *. entry is accepted in its xn-- form', async () => {
    expect(await outcome({ url: 'https://xn--80ak6aa92e.cdn.example.com/' })).toBe('allowed');
  });

  test('percent-escapes are decoded at most three rounds deep', async () => {
    // Each layer decodes to the next; the last one is the letter A.
    expect(await outcome({ path: '/srv/data/%%%33%34%%33%31' })).toBe('allowed');
    const err = await fetchTool({ path: '/srv/data/%%%%33%33%33%34%%%33%33%33%31' }, { capability: cap }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'arguments_out_of_scope', reason: expect.stringContaining('is percent-encoded more than 3 levels deep') });
  });
});
