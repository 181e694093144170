import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock, type ManualClock } from '../../src/testing/clock.js';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/run.js';

export interface CliHarness {
  readonly dir: string;
  readonly clock: ManualClock;
  /** Runs the CLI in process; `stdin` is what `-` reads. */
  run(argv: string[], stdin?: string, env?: Record<string, string>): Promise<{ code: number; out: string; err: string }>;
  /** Every byte the CLI has printed so far, to prove a secret never appeared. */
  readonly transcript: string[];
  cleanup(): void;
}

export function cliHarness(): CliHarness {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
  const clock = createManualClock();
  const transcript: string[] = [];
  return {
    dir,
    clock,
    transcript,
    async run(argv, stdin = '', env = {}) {
      let out = '';
      let err = '';
      const io: CliIo = {
        stdout: (t) => {
          out += t;
        },
        stderr: (t) => {
          err += t;
        },
        readStdin: async () => stdin,
        cwd: dir,
        env,
        clock,
      };
      const code = await runCli(argv, io);
      transcript.push(out, err);
      return { code, out, err };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
