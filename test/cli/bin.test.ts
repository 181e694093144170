import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('the tessera executable', () => {
  test('runs from source in development (npx tsx src/cli/main.ts)', { timeout: 60_000 }, () => {
    const ok = spawnSync('npx', ['tsx', 'src/cli/main.ts', '--version'], { cwd: root, encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe('0.1.0\n');
    const bad = spawnSync('npx', ['tsx', 'src/cli/main.ts', 'inspect'], { cwd: root, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('tessera inspect: tessera inspect --jwks <file|url> [--issuer <url>] [--audience <name>] [--json] <token|file|->: wrong number of arguments\nRun "tessera inspect --help".\n');
  });

  test('builds to an executable ES module with a shebang', { timeout: 60_000 }, () => {
    // Inside node_modules so that the bundle resolves its dependencies as an installed package does.
    const out = mkdtempSync(join(root, 'node_modules', '.tessera-bin-test-'));
    try {
      const build = spawnSync(
        'npx',
        ['tsup', 'src/cli/main.ts', '--no-config', '--format', 'esm', '--platform', 'node', '--target', 'node20', '--out-dir', out, '--external', 'redis', '--external', 'yaml'],
        { cwd: root, encoding: 'utf8' },
      );
      expect(build.status).toBe(0);
      const bin = join(out, 'main.js');
      expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
      expect(statSync(bin).mode & 0o111).not.toBe(0);
      const run = spawnSync(bin, ['--help'], { cwd: root, encoding: 'utf8' });
      expect(run.status).toBe(0);
      expect(run.stdout.startsWith("tessera: least-privilege, just-in-time authority for AI agents' tools\n")).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
