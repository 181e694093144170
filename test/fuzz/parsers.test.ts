/**
 * Fuzz targets for every parser that reads text an attacker chooses, outside of tokens:
 * SPIFFE IDs, pathWithin, hostIn, grant patterns, globs and rules files. Each property says
 * what must hold for every input, and uses an independent reading of the input as the oracle.
 */
import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { InvalidPolicyError } from '../../src/policy/errors.js';
import { parseRules } from '../../src/policy/rules-loader.js';
import { compileGlob } from '../../src/policy/match.js';
import { argConstraintSchema, compileConstraint } from '../../src/capability/constraints.js';
import { pathWithinProblem } from '../../src/capability/path-within.js';
import { compilePattern, PATTERN_MAX_INPUT, patternProblem } from '../../src/capability/pattern.js';
import { parseStrictUrl } from '../../src/capability/url-host.js';
import { isSpiffeId, parseSpiffeId, SpiffeIdError } from '../../src/identity/spiffe-id.js';
import { corpus, FUZZ_TIMEOUT_MS, fuzzParams, hostileString, within } from './support.js';

const ROOT = '/srv/data';

// ---------------------------------------------------------------------------------------------
// pathWithin: whatever a downstream does to an accepted path, it stays under the root.

const PATH_PIECES = ['/', '.', '..', '\\', '%', '%2e', '%2E', '%2f', '%5c', '%25', '%00', '%c0%ae', '%e0%80%ae', '%u002e', '%%32%65', '2e', 'srv', 'data', ROOT, '/srv/database', '\uff0e', '\u2025', '\uff0f', '\uff3c', '\uff05', '\u0000', '\n', '\u0085', '\ud800', 'a', ' ', '~', ':'];

/** Decodes %XX bytes like a lenient server would: overlong UTF-8 accepted, invalid bytes as Latin-1. */
function lenientDecode(s: string): string {
  let out = s.replace(/%u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  out = out.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    const bytes = run.split('%').slice(1).map((h) => parseInt(h, 16));
    let text = '';
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const c1 = bytes[i + 1];
      const c2 = bytes[i + 2];
      if (b >= 0xc0 && b < 0xe0 && c1 !== undefined && (c1 & 0xc0) === 0x80) {
        text += String.fromCharCode(((b & 0x1f) << 6) | (c1 & 0x3f));
        i += 1;
      } else if (b >= 0xe0 && b < 0xf0 && c1 !== undefined && c2 !== undefined && (c1 & 0xc0) === 0x80 && (c2 & 0xc0) === 0x80) {
        text += String.fromCharCode(((b & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f));
        i += 2;
      } else {
        text += String.fromCharCode(b);
      }
    }
    return text;
  });
  return out;
}

/** Every reading of a path some downstream might make: decoded up to four times, NFKC, '\' as '/'. */
function readings(value: string): string[] {
  const out = new Set<string>();
  let layer = value;
  for (let i = 0; i < 5; i++) {
    for (const v of [layer, layer.normalize('NFKC')]) {
      out.add(v);
      out.add(v.replace(/\\/g, '/'));
    }
    layer = lenientDecode(layer);
  }
  return [...out];
}

const under = (p: string): boolean => p === ROOT || p.startsWith(`${ROOT}/`);

describe('fuzz: pathWithin', () => {
  test(
    'an accepted path stays under the root in every downstream reading, and the check never throws',
    () => {
      const arb = fc.tuple(fc.oneof(hostileString(PATH_PIECES), fc.constantFrom(...corpus('paths.json'))), fc.boolean());
      fc.assert(
        fc.property(arb, ([value, relative]) => {
          const why = within(50, 'pathWithinProblem', () => pathWithinProblem(ROOT, value, relative));
          if (why !== undefined) {
            expect(typeof why).toBe('string');
            return;
          }
          if (!relative) expect(value.startsWith('/')).toBe(true);
          for (const r of readings(value)) {
            expect(r).not.toMatch(/[\u0000-\u001f]/);
            expect(r.split('/')).not.toContain('..');
            expect(under(posix.resolve(ROOT, r)), `${JSON.stringify(value)} read as ${JSON.stringify(r)}`).toBe(true);
          }
        }),
        fuzzParams(600),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------
// hostIn: an accepted URL has the same scheme and host for WHATWG URL and for RFC 3986.

const URL_PIECES = ['https://', 'http://', 'HTTPS://', 'https:', 'wss://', '//', '/', '\\', '@', ':', '.', '..', '%2e', '%40', '%', '%zz', 'api', 'example', 'com', 'evil', '[', ']', '::1', '\t', '\n', ' ', '\u3002', '\uff0e', '#', '?', '0x7f', '127', '1', '010', 'xn--', '-', '443', '\uff41', 'A', '\u200b'];

/** RFC 3986 Appendix B, then the host out of the authority. */
function rfc3986(value: string): { scheme: string; host: string } | undefined {
  const m = /^(?:([^:/?#]+):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(value);
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined;
  const authority = m[2];
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const colon = hostPort.lastIndexOf(':');
  const host = hostPort.startsWith('[') || colon < 0 ? hostPort : hostPort.slice(0, colon);
  return { scheme: m[1].toLowerCase(), host: host.toLowerCase() };
}

describe('fuzz: hostIn', () => {
  test(
    'an accepted URL reads the same to WHATWG and RFC 3986, and the check never throws',
    () => {
      const check = compileConstraint(argConstraintSchema.parse({ hostIn: ['api.example.com', '*.example.com', '127.0.0.1'], schemes: ['https', 'wss', 'http'] }));
      const arb = fc.oneof(hostileString(URL_PIECES), fc.constantFrom(...corpus('urls.json')), fc.webUrl());
      fc.assert(
        fc.property(arb, (value) => {
          const parsed = within(50, 'parseStrictUrl', () => parseStrictUrl(value));
          const verdict = check(value, 'url');
          if (typeof parsed === 'string') {
            expect(typeof verdict).toBe('string');
            return;
          }
          const whatwg = new URL(value);
          expect(whatwg.hostname).toBe(parsed.host);
          expect(whatwg.protocol).toBe(`${parsed.scheme}:`);
          expect(whatwg.username + whatwg.password).toBe('');
          expect(rfc3986(value)).toEqual({ scheme: parsed.scheme, host: parsed.host });
          expect(parsed.host).toMatch(/^[a-z0-9.-]+$/);
        }),
        fuzzParams(600),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------
// SPIFFE IDs.

const SPIFFE_PIECES = ['spiffe://', 'SPIFFE://', 'spiffe:/', 'example.org', 'Example', '/', '//', '.', '..', 'a', 'agents', '-', '_', '%2f', '@', ':', '443', '?', '#', '\u0000', '\u0430', '\uff45'];

describe('fuzz: SPIFFE IDs', () => {
  test(
    'parseSpiffeId either throws SpiffeIdError or returns an ID that follows the standard',
    () => {
      const arb = fc.oneof(hostileString(SPIFFE_PIECES), fc.constantFrom(...corpus('spiffe-ids.json')));
      fc.assert(
        fc.property(arb, (value) => {
          let id: ReturnType<typeof parseSpiffeId> | undefined;
          try {
            id = within(50, 'parseSpiffeId', () => parseSpiffeId(value));
          } catch (err) {
            expect(err).toBeInstanceOf(SpiffeIdError);
            expect(isSpiffeId(value)).toBe(false);
            return;
          }
          expect(isSpiffeId(value)).toBe(true);
          expect(id.id).toBe(value);
          expect(value).toBe(`spiffe://${id.trustDomain}${id.path}`);
          expect(id.trustDomain).toMatch(/^[a-z0-9._-]+$/);
          expect(id.path === '' || /^(\/[A-Za-z0-9._-]+)+$/.test(id.path)).toBe(true);
          expect(id.path.split('/')).not.toContain('..');
          expect(id.path.split('/')).not.toContain('.');
          expect(Buffer.byteLength(value)).toBeLessThanOrEqual(2048);
        }),
        fuzzParams(600),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------
// Grant patterns.

const PATTERN_PIECES = ['a', 'b', '.', '*', '+', '?', '|', '(', ')', '(?:', '(?=', '(?<', '(?P<n>', '[', ']', '[^', '{', '}', '{1000}', '{0,200}', ',', '\\', '\\d', '\\w', '\\s', '\\b', '\\1', '\\k', '\\p{L}', '\\pN', '\\Q', '\\E', '^', '$', '(?i)', '(?s)', '(?m)', '-', '\u00e9', '\ud83d\ude00', '\ud800'];

/** A small regular-expression grammar on which RE2 and JavaScript agree for a full match. */
const simpleRegex: fc.Arbitrary<string> = fc.letrec<{ re: string }>((tie) => ({
  re: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('a', 'b', '.', '[ab]', '[^a]', '\\d', 'x'),
    fc.tuple(tie('re'), tie('re')).map(([x, y]) => `${x}${y}`),
    fc.tuple(tie('re'), tie('re')).map(([x, y]) => `(?:${x}|${y})`),
    fc.tuple(tie('re'), fc.constantFrom('*', '+', '?', '{2}', '{1,3}')).map(([x, q]) => `(?:${x})${q}`),
  ),
})).re;

describe('fuzz: grant patterns', () => {
  test(
    'any source is either refused with a reason or compiles, and matching never throws or stalls',
    () => {
      const input = fc.oneof(hostileString(['a', 'b', '-', 'aaaaaaaaaaaaaaaa', '\n', ' ', '\u00e9', '\ud83d\ude00', '\ud800', 'x'], 40), fc.constantFrom('a'.repeat(PATTERN_MAX_INPUT), 'ab'.repeat(PATTERN_MAX_INPUT / 2), `${'a'.repeat(PATTERN_MAX_INPUT - 1)}!`));
      const arb = fc.tuple(fc.oneof(hostileString(PATTERN_PIECES, 16), fc.constantFrom(...corpus('patterns.json'))), fc.array(input, { maxLength: 4 }));
      fc.assert(
        fc.property(arb, ([source, values]) => {
          const why = within(100, 'patternProblem', () => patternProblem(source));
          const schema = argConstraintSchema.safeParse({ pattern: source });
          expect(schema.success).toBe(why === undefined);
          if (why !== undefined) {
            expect(() => compilePattern(source)).toThrow(TypeError);
            return;
          }
          const re = compilePattern(source);
          for (const v of values) expect(typeof within(50, `/${source}/ on ${v.length} chars`, () => re.test(v))).toBe('boolean');
        }),
        fuzzParams(400),
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  test(
    'on a grammar both engines share, the RE2 full match agrees with JavaScript',
    () => {
      const arb = fc.tuple(simpleRegex, fc.array(fc.stringMatching(/^[abx1\n]{0,8}$/), { minLength: 1, maxLength: 6 }));
      fc.assert(
        fc.property(arb, ([source, values]) => {
          if (patternProblem(source) !== undefined) return;
          const re = compilePattern(source);
          const js = new RegExp(`^(?:${source})$`, 'u');
          for (const v of values) expect(re.test(v), `/${source}/ on ${JSON.stringify(v)}`).toBe(js.test(v));
        }),
        fuzzParams(400),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------
// Globs.

describe('fuzz: globs', () => {
  test(
    'a glob matches exactly what its reference reading matches, quickly',
    () => {
      const piece = fc.constantFrom('a', 'b', '/', '.', '*', '**', '(', '+', '[', '\\', '?', '\n');
      const arb = fc.tuple(fc.array(piece, { maxLength: 10 }).map((p) => p.join('')), fc.array(fc.stringMatching(/^[ab/.(+[\\?\n]{0,10}$/), { maxLength: 5 }));
      // The reference: a backtracking regular expression, safe here because the values are short.
      const reference = (glob: string) => {
        const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const re = new RegExp(`^${glob.split('**').map((part) => part.split('*').map(esc).join('[^/]*')).join('.*')}$`, 's');
        return (v: string) => re.test(v);
      };
      fc.assert(
        fc.property(arb, ([glob, values]) => {
          const m = compileGlob(glob);
          const r = reference(glob);
          for (const v of values) expect(m(v), `${glob} ~ ${JSON.stringify(v)}`).toBe(r(v));
          expect(within(50, 'glob on a long value', () => m('a'.repeat(2048)))).toBeTypeOf('boolean');
        }),
        fuzzParams(400),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------
// Rules files.

const RULE_PIECES = ['version: 1\n', 'rules:\n', '  - id: a\n', '    effect: permit\n', '    effect: forbid\n', '    args: {q: {pattern: "(a+)+"}}\n', '&a ', '*a', '<<: ', '!!js/function ', '!!binary ', '---\n', '? ', ': ', '{', '}', '[', ']', '"', "'", '\\', '#', '\t', '\n', '  ', '__proto__', 'constructor', '1e400', '-', 'null', '~'];

describe('fuzz: rules files (YAML and JSON)', () => {
  test(
    'parseRules either compiles or throws InvalidPolicyError, never anything else',
    async () => {
      const seeds = corpus<{ format: 'json' | 'yaml'; text: string }>('rules.json');
      const mutated = fc
        .tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat({ max: 20 }), hostileString(RULE_PIECES, 6))
        .map(([seed, at, cut, insert]) => {
          const i = at % (seed.text.length + 1);
          return { format: seed.format, text: seed.text.slice(0, i) + insert + seed.text.slice(i + cut) };
        });
      const structured = fc.tuple(fc.constantFrom<'json' | 'yaml'>('json', 'yaml'), fc.jsonValue()).map(([format, v]) => ({ format, text: JSON.stringify({ version: 1, rules: [v] }) }));
      const arb = fc.oneof(fc.constantFrom(...seeds), mutated, structured, fc.record({ format: fc.constantFrom<'json' | 'yaml'>('json', 'yaml'), text: hostileString(RULE_PIECES, 30) }));
      await fc.assert(
        fc.asyncProperty(arb, async ({ format, text }) => {
          const t0 = performance.now();
          const outcome = await parseRules(text, { format }).then(
            (engine) => engine,
            (err: unknown) => err,
          );
          expect(performance.now() - t0).toBeLessThan(2000);
          if (outcome instanceof Error) {
            expect(outcome, String(outcome)).toBeInstanceOf(InvalidPolicyError);
            expect((outcome as InvalidPolicyError).issues.length).toBeGreaterThan(0);
          } else {
            expect(Array.isArray((outcome as { ruleIds: unknown }).ruleIds)).toBe(true);
          }
        }),
        fuzzParams(300),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
