/**
 * The published root entry must never load an optional peer: importing `tessera` alone pulls in
 * no agent framework, no Redis client, no Cedar. Proven on a fresh build of the real tsup
 * config, twice: by following every import of the built files, and by loading the entry in a
 * child process whose resolve hook records every module it asks for.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Options } from 'tsup';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import config from '../tsup.config.js';

const root = resolve(import.meta.dirname, '..');
// Inside the repository so that the built files resolve jose, zod and the frameworks.
const out = join(root, 'node_modules', '.cache', `tessera-dist-imports-${process.pid}`);

const OPTIONAL_PEERS = [/^@langchain\//, /^langchain(\/|$)/, /^ai(\/|$)/, /^@ai-sdk\//, /^@openai\//, /^@modelcontextprotocol\//, /^redis$/, /^ioredis$/, /^@cedar-policy\//, /^vitest(\/|$)/, /^yaml$/, /^hono(\/|$)/, /^@hono\//];
const isOptionalPeer = (specifier: string): boolean => OPTIONAL_PEERS.some((p) => p.test(specifier));

const ADAPTERS: Record<string, RegExp> = {
  langchain: /^@langchain\/core\//,
  'ai-sdk': /^ai$/,
  'openai-agents': /^@openai\/agents-core$/,
  mcp: /^@modelcontextprotocol\/sdk\//,
};

const FRAMEWORKS = [/^@langchain\//, /^langchain(\/|$)/, /^ai(\/|$)/, /^@ai-sdk\//, /^@openai\//, /^@modelcontextprotocol\//];
const isFramework = (specifier: string): boolean => FRAMEWORKS.some((p) => p.test(specifier));

// Static imports load with the module; `import()` only when the code path runs (e.g. the
// rules loader asks for `yaml` only when given YAML).
const STATIC = /(?:^|[\s;}])(?:import|export)\s*(?:[\w*{}\s,$]+from\s*)?["']([^"']+)["']|\brequire\(\s*["']([^"']+)["']\s*\)/g;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Bare specifiers reachable from `entry` through the build's relative imports. */
function bareImports(entry: string): { static: Set<string>; dynamic: Set<string> } {
  const seen = new Set<string>();
  const found = { static: new Set<string>(), dynamic: new Set<string>() };
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [kind, pattern] of [['static', STATIC], ['dynamic', DYNAMIC]] as const) {
      for (const m of source.matchAll(pattern)) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
        else found[kind].add(spec);
      }
    }
  };
  visit(join(out, entry));
  return found;
}

beforeAll(async () => {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const options = config as Options;
  // Types are not what this test is about, and building them takes a minute.
  await build({ ...options, outDir: out, dts: false, sourcemap: false, silent: true });
}, 240_000);

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
});

describe('built dist', () => {
  test('every adapter subpath is built and exported, types first in each condition', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    for (const name of Object.keys(ADAPTERS)) {
      const entry = pkg.exports[`./${name}`] as Record<string, Record<string, string>>;
      expect(Object.keys(entry)).toEqual(['import', 'require']);
      for (const condition of ['import', 'require'] as const) {
        expect(Object.keys(entry[condition]!)[0]).toBe('types');
        expect(existsSync(join(out, entry[condition]!['default']!.replace('./dist/', '')))).toBe(true);
      }
    }
  });

  test('the root entry (ESM and CJS) imports no optional peer, directly or through a chunk', () => {
    for (const entry of ['index.js', 'index.cjs']) {
      const found = bareImports(entry);
      expect(found.static.has('jose')).toBe(true);
      expect([...found.static].filter(isOptionalPeer)).toEqual([]);
      // Not even lazily: no code path of the root reaches an agent framework.
      expect([...found.static, ...found.dynamic].filter(isFramework)).toEqual([]);
    }
  });

  test('each adapter entry imports its own framework and no other (the scan sees what it looks for)', () => {
    for (const [name, framework] of Object.entries(ADAPTERS)) {
      const found = [...bareImports(`${name}.js`).static];
      // The AI SDK adapter needs only the SDK's types: the tool it returns is a plain object.
      expect(found.some((s) => framework.test(s))).toBe(name !== 'ai-sdk');
      const others = Object.entries(ADAPTERS).filter(([n]) => n !== name).map(([, p]) => p);
      expect(found.filter((s) => others.some((p) => p.test(s)))).toEqual([]);
    }
  });

  test('the authority client entry imports oauth4webapi; the root never does, not even lazily', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, Record<string, string>>> };
    expect(pkg.exports['./authority-client']!['import']!['default']).toBe('./dist/authority-client.js');
    expect([...bareImports('authority-client.js').static]).toContain('oauth4webapi');
    for (const entry of ['index.js', 'index.cjs']) {
      const found = bareImports(entry);
      expect([...found.static, ...found.dynamic]).not.toContain('oauth4webapi');
    }
    // oauth4webapi is ES-module only: the CommonJS build loads it through require(esm).
    const cjs = execFileSync(process.execPath, ['-e', `process.stdout.write(typeof require(${JSON.stringify(join(out, 'authority-client.cjs'))}).requestCapability)`], { cwd: root });
    expect(cjs.toString()).toBe('function');
  });

  test('the authority-server entry imports hono; the root never does', () => {
    expect([...bareImports('authority-server.js').static].filter((s) => /^hono(\/|$)/.test(s)).length).toBeGreaterThan(0);
    expect([...bareImports('index.js').static, ...bareImports('index.js').dynamic].filter((s) => /^(@hono\/|hono(\/|$))/.test(s))).toEqual([]);
  });

  test('loading the root entry in a fresh process resolves no optional peer', () => {
    const hooks = join(out, 'record-hooks.mjs');
    const log = join(out, 'resolved.log');
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  appendFileSync(${JSON.stringify(log)}, specifier + '\\n');
  return next(specifier, context);
}`,
    );
    const register = `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)});`;
    const load = (entry: string): string[] => {
      writeFileSync(log, '');
      execFileSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(join(out, entry)).href)});`], {
        cwd: root,
        stdio: 'pipe',
      });
      return readFileSync(log, 'utf8').split('\n').filter(Boolean);
    };

    const rootResolved = load('index.js');
    expect(rootResolved).toContain('jose');
    expect(rootResolved.filter(isOptionalPeer)).toEqual([]);

    const mcpResolved = load('mcp.js');
    expect(mcpResolved.some((s) => s.startsWith('@modelcontextprotocol/sdk/'))).toBe(true);
  }, 60_000);
});
