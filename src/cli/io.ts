/**
 * What a command may touch of the outside world, passed in so that tests run the CLI in process
 * with captured output and a fixed clock.
 */
import type { Clock } from '../util/time.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads all of standard input (for `-` arguments). */
  readStdin(): Promise<string>;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
}

/** Exit codes, stable for scripts. */
export const EXIT = {
  /** Done; for `check`, the call would be allowed. */
  ok: 0,
  /** Something failed: a file, a key, a store, a malformed input. */
  failure: 1,
  /** The command line was wrong; see `--help`. */
  usage: 2,
  /** The answer is no: `check` would deny the call, `inspect` rejected the capability. */
  denied: 3,
  /** `check`: allowed only once a human approves. */
  approval: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the user can act on; its message is printed as is, never with a stack. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = EXIT.failure) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export class CliUsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'CliUsageError';
  }
}
