/**
 * The documentation against the repository: the quickstart is the example that runs, what it
 * says it prints is what it prints, every link and every path a page names exists, and the
 * examples index lists every example.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { codeBlocks, pages, ROOT } from './markdown.js';

const run = promisify(execFile);
const all = pages();
const page = (path: string) => all.find((p) => p.path === path)!;
const tsx = join(ROOT, 'node_modules/.bin/tsx');

/** Linked before they are written; a missing one is a loud warning, an existing one is checked like any other. */
const PAGES_NOT_YET_WRITTEN = new Set(['docs/constraints.md', 'docs/frameworks.md']);

function quickstartBlocks() {
  const blocks = codeBlocks(page('README.md'));
  const code = blocks.find((b) => b.lang === 'ts' && b.code.includes('createAuthority'))!;
  const printed = blocks.find((b) => b.lang === 'text')!;
  return { code: code.code, printed: printed.code };
}

describe('the README quickstart', () => {
  test('is examples/quickstart.ts, importing the package instead of the source', () => {
    const example = readFileSync(join(ROOT, 'examples/quickstart.ts'), 'utf8')
      .split('\n')
      .slice(1) // the file's own header comment
      .join('\n')
      .replace("from '../src/index.js'", "from 'tessera-guard'")
      .replace("from '../src/policy/approvers.js'", "from 'tessera-guard/approvers'")
      .trim();
    expect(quickstartBlocks().code).toBe(example);
  });

  test('prints what the README says it prints', { timeout: 60_000 }, async () => {
    const { stdout } = await run(tsx, ['examples/quickstart.ts'], { cwd: ROOT, timeout: 60_000 });
    expect(stdout).toBe(`${quickstartBlocks().printed}\n`);
  });

  test('names the two commands a newcomer runs, as package.json defines them', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const sh = codeBlocks(page('README.md')).find((b) => b.lang === 'sh')!.code;
    expect(sh).toMatch(/^npm ci && npm run demo\s+#/m);
    expect(sh).toMatch(/^npm test\s+#/m);
    expect(pkg.scripts.demo).toBe('tsx examples/demo.ts');
    expect(pkg.scripts.test).toBe('vitest run');
  });
});

describe('links and paths', () => {
  test('every relative link in every page points at a file or folder in the repository', () => {
    const missing: string[] = [];
    for (const p of all) {
      for (const m of p.text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (target === '' || /^[a-z]+:/i.test(target)) continue;
        const path = normalize(join(dirname(p.path), target));
        if (path.startsWith('..')) missing.push(`${p.path}: ${m[1]} leaves the repository`);
        else if (!existsSync(join(ROOT, path))) {
          if (PAGES_NOT_YET_WRITTEN.has(path)) console.warn(`\n!!! ${p.path} links ${path}, which does not exist yet\n`);
          else missing.push(`${p.path}: ${m[1]}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  test('every repository path a page names in code font exists', () => {
    const missing: string[] = [];
    for (const p of all) {
      for (const m of p.text.matchAll(/`((?:src|test|examples|docs|bench)\/[^`\s]*)`/g)) {
        const path = m[1]!;
        const base = path.includes('*') ? path.slice(0, path.lastIndexOf('/', path.indexOf('*'))) : path;
        if (!existsSync(join(ROOT, base)) && !PAGES_NOT_YET_WRITTEN.has(base)) missing.push(`${p.path}: ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('no page, source file, test or example cites a design document or a file outside the repository', () => {
    const banned = [['DESIGN', 'md'].join('.'), ['REFERENCES', 'md'].join('.'), ['..', 'shared'].join('/')];
    const self = relative(ROOT, new URL(import.meta.url).pathname);
    const walk = (dir: string): string[] =>
      readdirSync(join(ROOT, dir)).flatMap((name) => {
        const path = join(dir, name);
        if (name === 'node_modules' || name.startsWith('.')) return [];
        return statSync(join(ROOT, path)).isDirectory() ? walk(path) : [path];
      });
    const files = ['src', 'test', 'examples', 'bench', 'docs'].flatMap(walk);
    const hits = [...files, 'README.md']
      .filter((f) => f !== self && /\.(ts|md|ya?ml|json|cedar)$/.test(f))
      .flatMap((f) => banned.filter((b) => readFileSync(join(ROOT, f), 'utf8').includes(b)).map((b) => `${f}: ${b}`));
    expect(hits).toEqual([]);
  });

  test('the README links every page under docs/', () => {
    const readme = page('README.md').text;
    const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
    expect(docs.length).toBeGreaterThanOrEqual(12);
    expect(docs.filter((f) => !readme.includes(`](docs/${f})`))).toEqual([]);
  });
});

describe('examples/README.md', () => {
  test('indexes every example file', () => {
    const index = page('examples/README.md').text;
    const files = (function walk(dir: string): string[] {
      return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : [relative(join(ROOT, 'examples'), join(ROOT, dir, e.name))],
      );
    })('examples').filter((f) => f !== 'README.md');
    expect(files.length).toBeGreaterThan(10);
    const unlisted = files.filter((f) => !index.includes(`](${f})`) && !(f.endsWith('.cedar') && index.includes('](policies/)')));
    expect(unlisted).toEqual([]);
  });

  test('approval.ts --ci: the refund of 40 is approved by the script, the one of 900 is forbidden by the rules', { timeout: 60_000 }, async () => {
    const { stdout } = await run(tsx, ['examples/approval.ts', '--ci'], { cwd: ROOT, timeout: 60_000 });
    expect(stdout.split('\n')).toEqual([
      'refunded 40 on ticket 4711',
      'denied (policy_denied): forbidden by rule "large-refunds-forbidden": refunds above 500 go through the finance team, not an agent [large-refunds-forbidden]',
      '',
    ]);
  });
});
