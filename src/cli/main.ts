#!/usr/bin/env node
/** The `tessera` executable: wires the real process into the CLI. */
import { runCli } from './run.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readStdin,
  cwd: process.cwd(),
  env: process.env,
  clock: Date.now,
}).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.stderr.write('tessera: unexpected failure\n');
    process.exitCode = 1;
  },
);
