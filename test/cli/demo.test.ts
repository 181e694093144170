import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { findDemoRoot } from '../../src/cli/commands/demo.js';
import { runCli } from '../../src/cli/run.js';
import { createManualClock } from '../../src/testing/clock.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function run(argv: string[], cwd: string) {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    readStdin: async () => '',
    cwd,
    env: {},
    clock: createManualClock(),
  });
  return { code, out, err };
}

describe('tessera demo', () => {
  test('runs the repository demo in process and prints its decisions', { timeout: 60_000 }, async () => {
    const r = await run(['demo'], root);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/tickets\.delete\s+denied\s+tool_not_granted/);
    expect(r.out).toMatch(/email\.send\s+denied\s+call_limit_exceeded/);
  });

  test('finds the checkout from a subdirectory, and nothing outside one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-nodemo-'));
    try {
      expect(findDemoRoot(dir)).toBeUndefined();
      expect(findDemoRoot(join(root, 'src', 'cli'))).toBe(root.replace(/\/$/, ''));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
