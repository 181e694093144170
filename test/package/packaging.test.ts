/**
 * The package as it is published: built by the real tsup config, packed by npm, then checked by
 * publint (package.json fields and files), Are the Types Wrong (ESM, CJS and types resolve for
 * every subpath under Node 16+ resolution) and API Extractor (the public surface of every entry
 * matches its report under api/).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPackage, createPackageFromTarballData } from '@arethetypeswrong/core';
import { publint } from 'publint';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { entryPoints, REPO_ROOT, runApiReport } from './api-report.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
  sideEffects: unknown;
};
let packDir: string;
let tarball: string;

beforeAll(() => {
  execFileSync('npx', ['tsup', '--silent'], { cwd: REPO_ROOT, stdio: 'pipe' });
  packDir = mkdtempSync(join(tmpdir(), 'tessera-pack-'));
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: REPO_ROOT, encoding: 'utf8' });
  tarball = join(packDir, out.trim().split('\n').at(-1)!);
}, 180_000);

afterAll(() => {
  if (packDir) rmSync(packDir, { recursive: true, force: true });
});

describe('the packed package', () => {
  test('publint finds nothing to fix', async () => {
    const { messages } = await publint({ pkgDir: REPO_ROOT, level: 'suggestion', strict: true, pack: false });
    expect(messages.map((m) => `${m.type} ${m.code} ${m.path.join('.')}`)).toEqual([]);
  });

  test('types resolve for every entry under node16 resolution, from ESM and CJS', async () => {
    const analysis = await checkPackage(createPackageFromTarballData(new Uint8Array(readFileSync(tarball))));
    const problems = 'problems' in analysis ? analysis.problems : [];
    // The package needs Node 20, so pre-exports resolution (node10) is not a target; the testing
    // entry is ESM only by design (vitest is), so it has no CommonJS resolution to check.
    const relevant = problems.filter((p) => {
      const kind = 'resolutionKind' in p ? p.resolutionKind : undefined;
      const entry = 'entrypoint' in p ? p.entrypoint : undefined;
      return kind !== 'node10' && !(entry === './testing' && kind === 'node16-cjs');
    });
    expect(relevant).toEqual([]);
  }, 120_000);

  test('every entry point matches its API report (npm run api:update after a deliberate change)', () => {
    const results = [...entryPoints(pkg)].map(([entry, types]) => runApiReport(entry, types, REPO_ROOT, false));
    expect(results.filter((r) => r.errors.length > 0)).toEqual([]);
    expect(results.filter((r) => r.changed).map((r) => r.entry)).toEqual([]);
  }, 120_000);
});
