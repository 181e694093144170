import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { createManualClock } from '../../src/testing/clock.js';


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
  test('runs the demo that ships in the package, from a directory that is no checkout, and prints its decisions', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-demo-'));
    try {
      const r = await run(['demo'], dir);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/read the ticket\s+tickets\.read\s+allowed/);
      expect(r.out).toMatch(/reply to the customer\s+email\.send\s+allowed/);
      expect(r.out).toMatch(/read another ticket\s+tickets\.read\s+denied\s+arguments_out_of_scope/);
      expect(r.out).toMatch(/tickets\.delete\s+denied\s+tool_not_granted/);
      expect(r.out).toMatch(/email an outsider\s+email\.send\s+denied\s+arguments_out_of_scope/);
      expect(r.out).toMatch(/email again\s+email\.send\s+denied\s+call_limit_exceeded/);
      expect(r.out).toMatch(/replay the credential\s+mail-api\s+denied\s+replay_detected/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
