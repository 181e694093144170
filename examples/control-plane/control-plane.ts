/**
 * Runs the control plane as three processes: the authority (the only holder of its signing
 * key), a tool server whose guard trusts the authority by issuer URL, and an agent holding only
 * its OIDC access token and its own key. A real redis-server is shared by the authority and the
 * guard; a real OpenID provider issues the agent's and the administrator's tokens.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startOidcProvider } from '../../test/identity/oidc-server.js';
import { startRedisServer } from '../../test/support/redis-server.js';

const here = import.meta.dirname;
const root = resolve(here, '../..');
const AUTHORITY_AUDIENCE = 'urn:tessera:authority';
const GUARD_AUDIENCE = 'support-app';

export interface ControlPlaneEvent {
  readonly step: string;
  readonly outcome: 'granted' | 'refused' | 'allowed' | 'denied' | 'waiting' | 'stopped';
  readonly code?: string;
  readonly description?: string;
  readonly tokenType?: string;
}

export interface ControlPlaneOptions {
  /** Receives one line per thing that happened. */
  log?: (line: string) => void;
  /** Extra node flags for the agent process only (the test uses it to record what the agent reads). */
  agentExecArgv?: string[];
  /** Extra environment for the agent process only. */
  agentEnv?: Record<string, string>;
}

export interface ControlPlaneRun {
  readonly events: ControlPlaneEvent[];
  /** The file holding the authority's private key (deleted when the run ends). */
  readonly keyFile: string;
  /** The authority's private key's `d`, to prove it appears nowhere it should not. */
  readonly keySecret: string;
  readonly environments: { authority: string[]; tools: string[]; agent: string[] };
}

interface Child {
  readonly process: ChildProcess;
  readonly stderr: string[];
  next<T extends { type: string }>(type: string): Promise<T>;
}

function start(script: string, env: Record<string, string>, execArgv: string[] = []): Child {
  const child = fork(join(here, script), [], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    execArgv: ['--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString('utf8')));
  const queue: { type: string }[] = [];
  const waiting: { type: string; resolve: (m: { type: string }) => void }[] = [];
  child.on('message', (m: { type: string }) => {
    const i = waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(m);
    else queue.push(m);
  });
  return {
    process: child,
    stderr,
    next<T extends { type: string }>(type: string): Promise<T> {
      const i = queue.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0] as T);
      return new Promise<T>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`${script} sent no "${type}" within 60s:\n${stderr.join('')}`)), 60_000);
        child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before "${type}":\n${stderr.join('')}`)));
        waiting.push({
          type,
          resolve: (m) => {
            clearTimeout(timer);
            resolvePromise(m as T);
          },
        });
      });
    },
  };
}

export async function runControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlaneRun> {
  const log = options.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-control-plane-'));
  const keyFile = join(dir, 'authority-key.json');
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  writeFileSync(keyFile, JSON.stringify(jwk), { mode: 0o600 });

  const redis = await startRedisServer({ durable: false });
  const op = await startOidcProvider(['support-agent', 'oncall-admin'], AUTHORITY_AUDIENCE);
  const children: Child[] = [];
  try {
    const authorityEnv = { OIDC_ISSUER: op.issuer, REDIS_URL: redis.url, AUTHORITY_KEY_FILE: keyFile, AUTHORITY_AUDIENCE };
    const authority = start('authority.ts', authorityEnv);
    children.push(authority);
    const { issuer } = await authority.next<{ type: string; issuer: string }>('ready');
    log(`authority  listening at ${issuer} (signing key from ${keyFile})`);

    const toolsEnv = { REDIS_URL: redis.url, AUTHORITY_ISSUER: issuer, GUARD_AUDIENCE };
    const tools = start('tools.ts', toolsEnv);
    children.push(tools);
    const { url } = await tools.next<{ type: string; url: string }>('ready');
    log(`tools      listening at ${url}, trusting ${issuer} by its metadata`);

    const agentEnv = { AUTHORITY_URL: issuer, TOOLS_URL: url, GUARD_AUDIENCE, ...options.agentEnv };
    const agent = start('agent.ts', agentEnv, options.agentExecArgv);
    children.push(agent);
    const events: ControlPlaneEvent[] = [];
    agent.process.on('message', (m: { type: string } & ControlPlaneEvent) => {
      if (m.type !== 'event') return;
      const { type: _type, ...event } = m;
      events.push(event);
      const detail = event.code === undefined ? (event.tokenType === undefined ? '' : ` (${event.tokenType})`) : ` (${event.code})`;
      log(`agent      ${event.step}: ${event.outcome}${detail}`);
    });
    agent.process.send({ type: 'start', identityToken: await op.token('support-agent') });

    await agent.next('await-stop');
    const admin = await op.token('oncall-admin');
    const res = await fetch(`${issuer}/admin/revocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'agent', id: 'support-agent', reason: 'emails outside the ticket' }),
    });
    if (res.status !== 201) throw new Error(`the emergency stop was refused: ${res.status} ${await res.text()}`);
    events.push({ step: 'admin stops agent support-agent', outcome: 'stopped' });
    log('admin      emergency stop of agent support-agent: written to the shared store');
    agent.process.send({ type: 'stopped' });
    await agent.next('done');

    return {
      events,
      keyFile,
      keySecret: String(jwk.d),
      environments: { authority: Object.keys(authorityEnv), tools: Object.keys(toolsEnv), agent: Object.keys(agentEnv) },
    };
  } finally {
    for (const c of children) {
      if (c.process.connected) c.process.disconnect();
      c.process.kill();
    }
    await op.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
