/**
 * The signer example: the authority signs through another process and never holds the key. The
 * authority process runs under strace, which records the environment it was started with and
 * every file it (and each process it starts) opened. strace must be installed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { runSignerExample } from '../../examples/signer/run.js';

const traceDir = mkdtempSync(join(tmpdir(), 'tessera-signer-trace-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));

test('a guard accepts the capability the authority signed through the signer, within its scope only, and the authority never saw the key', { timeout: 120_000 }, async () => {
  const strace = execFileSync('sh', ['-c', 'command -v strace'], { encoding: 'utf8' }).trim();
  const trace = join(traceDir, 'authority.trace');
  const lines: string[] = [];
  const result = await runSignerExample({
    log: (l) => lines.push(l),
    wrapAuthority: (command) => [strace, '-f', '-qq', '-v', '-s', '65536', '-e', 'trace=execve,open,openat,openat2,creat', '-o', trace, ...command],
  });

  expect(result.calls).toEqual([
    { ticketId: 'T-4711', outcome: 'allowed' },
    { ticketId: 'T-9999', outcome: 'denied arguments_out_of_scope' },
  ]);
  expect(lines).toHaveLength(4);

  // The environment it was given names the signer, never the key or where it is.
  expect(Object.keys(result.authorityEnv).sort()).toEqual(['PATH', 'TESSERA_SIGNER_SECRET', 'TESSERA_SIGNER_URL']);
  const recorded = readFileSync(trace, 'utf8');
  const started = recorded.split('\n').find((l) => l.includes('execve('));
  expect(started).toContain('TESSERA_SIGNER_URL=');
  expect(started).not.toContain('TESSERA_SIGNER_KEY_FILE');

  // The trace saw the authority read its own code, and nothing under the key's directory.
  expect(recorded).toMatch(/open(at)?\(.*examples\/signer\/authority\.ts"/);
  expect(recorded).not.toContain(dirname(result.keyFile));
  expect(recorded).not.toContain('PRIVATE KEY');
});
