/**
 * The authority's key in another process: `npx tsx examples/signer/run.ts`.
 *
 * 1. Writes a fresh Ed25519 private key to a temporary directory (mode 0600) and picks a random
 *    secret for the signer's callers.
 * 2. Starts the signing process (signer.ts) with the key file's name and the secret, and nothing
 *    else from this environment.
 * 3. Starts the authority process (authority.ts) with the signer's URL and the secret only: it
 *    never learns where the key is and never reads it. It grants one capability.
 * 4. A guard trusting the authority's published keys runs a tool under that capability: the call
 *    within it is allowed, the one outside it is denied.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createGuard, ToolDeniedError, type JWKS, guardTool } from '../../src/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

export interface SignerExampleOptions {
  /** Prints each line of the walkthrough. */
  log?: (line: string) => void;
  /** Wraps the authority's command line, e.g. to run it under a tracer: [command, ...args] in, the same out. */
  wrapAuthority?: (command: string[]) => string[];
}

export interface SignerExampleResult {
  /** Where the private key was written (deleted when the example ends). */
  keyFile: string;
  /** The environment the authority process was started with. */
  authorityEnv: Record<string, string>;
  /** The outcome of each call through the guard. */
  calls: { ticketId: string; outcome: string }[];
}

/** The first line a child prints, as JSON; its stderr is passed through. */
function firstLine(child: ChildProcess, what: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`${what} printed nothing within 30 s`)), 30_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as Record<string, unknown>);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before answering`));
    });
  });
}

export async function runSignerExample(options: SignerExampleOptions = {}): Promise<SignerExampleResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), 'tessera-signer-'));
  const keyFile = join(dir, 'authority-key.pem');
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const secret = randomBytes(32).toString('base64url');
  // Each process gets only what it needs: no inherited environment.
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const signer = spawn(tsx, [join(here, 'signer.ts')], {
    env: { ...base, TESSERA_SIGNER_KEY_FILE: keyFile, TESSERA_SIGNER_SECRET: secret },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const { url } = (await firstLine(signer, 'the signer')) as { url: string };
    log(`signer: holds the key, listening on ${url}`);
    const authorityEnv = { ...base, TESSERA_SIGNER_URL: url, TESSERA_SIGNER_SECRET: secret };
    const [command, ...args] = (options.wrapAuthority ?? ((c) => c))([tsx, join(here, 'authority.ts')]);
    const authority = spawn(command!, args, { env: authorityEnv, stdio: ['ignore', 'pipe', 'inherit'] });
    const { capability, jwks } = (await firstLine(authority, 'the authority')) as { capability: string; jwks: JWKS };
    await new Promise((resolve) => (authority.exitCode === null ? authority.once('exit', resolve) : resolve(undefined)));
    log(`authority: granted a capability signed by the key ${jwks.keys[0]?.kid ?? '?'} without holding it`);

    const guard = createGuard({ audience: 'support-app', trust: { issuer: 'https://authz.example.com', jwks } });
    const read = guardTool(
      guard,
      { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
      async ({ ticketId }) => ({ ticketId, status: 'open' }),
    );
    const calls: { ticketId: string; outcome: string }[] = [];
    await guard.withCapability(capability, async () => {
      for (const ticketId of ['T-4711', 'T-9999']) {
        try {
          await read({ ticketId });
          calls.push({ ticketId, outcome: 'allowed' });
        } catch (err) {
          if (!(err instanceof ToolDeniedError)) throw err;
          calls.push({ ticketId, outcome: `denied ${err.code}` });
        }
        log(`guard: tickets.read ${ticketId}: ${calls.at(-1)!.outcome}`);
      }
    });
    return { keyFile, authorityEnv, calls };
  } finally {
    signer.stdin!.end();
    signer.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await runSignerExample();
