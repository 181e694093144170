/**
 * docs/configuration.md against the option types: every table names exactly the options its type
 * declares, and a default the source documents is the default the page gives. Read with the
 * TypeScript checker, so a new option, a renamed one or a changed default fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { createAuthority } from '../../src/capability/authority.js';
import { createGuard } from '../../src/guard/create-guard.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { ROOT } from './markdown.js';

const PAGE = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');

/** Each table's heading names its type in parentheses: "### `createGuard(options)` (`GuardOptions`)". */
function tables(): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of PAGE.split('\n')) {
    const heading = /^###\s.*\(`([^`]+)`\)\s*$/.exec(line);
    if (heading) {
      current = new Map();
      out.set(heading[1]!, current);
      continue;
    }
    const row = /^\| `([A-Za-z]+)` \| ([^|]*) \|/.exec(line);
    if (row && current) current.set(row[1]!, row[2]!.trim());
  }
  return out;
}

/** The options each documented type declares, with the `default …` its doc comment states, if any. */
function declared(typeExpressions: readonly string[]): Map<string, Map<string, string | undefined>> {
  const file = join(ROOT, 'test/docs/.configuration-types.ts');
  const source = [
    "import type { GuardOptions, GuardTimeouts, TelemetryOptions, TrustedIssuer, ProofOptions, AuthorityOptions, MemoryStoreOptions, TripwireOptions } from '../../src/index.js';",
    "import type { RedisStoreOptions } from '../../src/store/redis.js';",
    ...typeExpressions.map((t, i) => `export type T${i} = NonNullable<${t}>;`),
  ].join('\n');
  const options: ts.CompilerOptions = {
    ...ts.parseJsonConfigFileContent(JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')), ts.sys, ROOT).options,
    noEmit: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (f) => f === file || fileExists(f);
  host.getSourceFile = (f, lang, onError, create) =>
    f === file ? ts.createSourceFile(f, source, lang, true, ts.ScriptKind.TS) : getSourceFile(f, lang, onError, create);
  const program = ts.createProgram({ rootNames: [file], options, host });
  const sf = program.getSourceFile(file)!;
  expect(ts.getPreEmitDiagnostics(program, sf).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  const checker = program.getTypeChecker();
  const out = new Map<string, Map<string, string | undefined>>();
  const aliases = sf.statements.filter(ts.isTypeAliasDeclaration);
  typeExpressions.forEach((expr, i) => {
    const type = checker.getTypeAtLocation(aliases[i]!.name);
    const props = new Map<string, string | undefined>();
    for (const p of checker.getPropertiesOfType(type)) {
      const doc = ts.displayPartsToString(p.getDocumentationComment(checker));
      const m = /\bdefault:? ((?:`[^`]+`)|(?:[\d,]+(?: MiB)?)|true|false)/.exec(doc);
      props.set(p.getName(), m?.[1]);
    }
    out.set(expr, props);
  });
  return out;
}

/**
 * Defaults the guard sets in place of the type's own: createGuard gives each key source the
 * guard's key deadline (test/adversarial/hostile-dependencies.test.ts), not the key set's 5 s.
 */
const OVERRIDDEN = new Map([['TrustedIssuer.fetchTimeoutMs', '5,000']]);
let checkedDefaults = 0;

const normalise = (s: string): string => s.replace(/[`"',\s]/g, '');

describe('docs/configuration.md', () => {
  const documented = tables();
  const types = declared([...documented.keys()]);

  test('documents every option type of createGuard, createAuthority and the two stores', () => {
    expect([...documented.keys()].sort()).toEqual(
      [
        'AuthorityOptions',
        "GuardOptions['credentials']",
        'GuardOptions',
        'GuardTimeouts',
        'MemoryStoreOptions',
        'ProofOptions',
        'RedisStoreOptions',
        'TelemetryOptions',
        'TripwireOptions',
        'TrustedIssuer',
      ].sort(),
    );
  });

  test.each([...documented.keys()])('the %s table names exactly the options the type declares', (type) => {
    expect([...documented.get(type)!.keys()].sort()).toEqual([...types.get(type)!.keys()].sort());
  });

  test.each([...documented.keys()])('every default the %s doc comments state is the one the page gives', (type) => {
    const page = documented.get(type)!;
    const stated = [...types.get(type)!].filter(([, d]) => d !== undefined);
    const wrong = stated.filter(([name, d]) => OVERRIDDEN.get(`${type}.${name}`) !== d && !normalise(page.get(name) ?? '').includes(normalise(d!)));
    checkedDefaults += stated.length;
    expect(wrong.map(([name, d]) => `${name}: source says ${d}, page says ${page.get(name)}`)).toEqual([]);
  });

  test('the defaults compared are many, so a change in how the source words them cannot empty the check', () => {
    expect(checkedDefaults).toBeGreaterThanOrEqual(29);
  });

  test('the page says each option the code requires is required, and no other', () => {
    const required = [...documented].flatMap(([type, rows]) => [...rows].filter(([, d]) => d === 'required').map(([n]) => `${type}.${n}`));
    expect(required.sort()).toEqual(
      ['AuthorityOptions.issuer', 'GuardOptions.audience', 'GuardOptions.trust', 'RedisStoreOptions.client', 'TrustedIssuer.issuer', 'TrustedIssuer.jwks'].sort(),
    );
  });

  // A bad value throws naming the option, as the page's first sentence says.
  const jwks = { keys: [] };
  const trust = { issuer: 'https://authz.example.com', jwks };
  test.each<[string, () => unknown, ErrorConstructor, string]>([
    ['clockSkewSec', () => createGuard({ audience: 'a', trust, clockSkewSec: 301 }), RangeError, 'clockSkewSec'],
    ['policyTimeoutMs', () => createGuard({ audience: 'a', trust, policyTimeoutMs: 3_600_001 }), RangeError, 'policyTimeoutMs'],
    ['approvalTimeoutMs', () => createGuard({ audience: 'a', trust, approvalTimeoutMs: 0 }), RangeError, 'approvalTimeoutMs'],
    ['timeouts.storeMs', () => createGuard({ audience: 'a', trust, timeouts: { storeMs: 300_001 } }), RangeError, 'timeouts.storeMs'],
    ['timeouts (unknown name)', () => createGuard({ audience: 'a', trust, timeouts: { storMs: 5 } as never }), TypeError, 'timeouts.storMs'],
    ['trust issuer twice', () => createGuard({ audience: 'a', trust: [trust, trust] }), TypeError, 'twice'],
    ['trust.jwks string', () => createGuard({ audience: 'a', trust: { issuer: 'i', jwks: 'https://k' as never } }), TypeError, 'new URL'],
    ['trust.algorithms HS256', () => createGuard({ audience: 'a', trust: { ...trust, algorithms: ['HS256'] } }), TypeError, 'trust.algorithms'],
    ['trust.fetchTimeoutMs', () => createGuard({ audience: 'a', trust: { ...trust, fetchTimeoutMs: 60_001 } }), RangeError, 'trust.fetchTimeoutMs'],
    ['trust.maxStaleMs', () => createGuard({ audience: 'a', trust: { ...trust, refreshIntervalMs: 60_000, maxStaleMs: 1000 } }), RangeError, 'trust.maxStaleMs'],
    ['credentials.signIn', () => createGuard({ audience: 'a', trust, credentials: { signIn: 'pool' as never } }), TypeError, 'credentials.signIn'],
    ['credentials.signIn with a provider', () => createGuard({ audience: 'a', trust, credentials: { signIn: 'threadpool', provider: { mint: () => ({ token: 't', expiresAt: 0 }), revoke: () => undefined } as never } }), TypeError, 'credentials.signIn'],
    ['verifyCacheMaxBytes', () => createGuard({ audience: 'a', trust, verifyCacheMaxBytes: -1 }), RangeError, 'verifyCacheMaxBytes'],
    ['maxEntries', () => createMemoryStore({ maxEntries: 0 }), RangeError, 'maxEntries'],
    ['sweepIntervalMs', () => createMemoryStore({ sweepIntervalMs: 5 }), RangeError, 'sweepIntervalMs'],
  ])('%s', (_name, make, kind, names) => {
    expect(make).toThrow(kind);
    expect(make).toThrow(names);
  });

  test('createAuthority: defaultTtl above maxTtl is a RangeError naming both', async () => {
    await expect(createAuthority({ issuer: 'i', maxTtl: '1m', defaultTtl: '5m' })).rejects.toThrow(new RangeError('defaultTtl must not exceed maxTtl'));
  });
});
