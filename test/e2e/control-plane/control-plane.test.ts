/**
 * The control plane end to end, in three processes: the authority (Hono on @hono/node-server,
 * the only holder of its signing key), a tool server whose guard trusts the authority by issuer
 * URL, and an agent holding only its OIDC access token (from a real oidc-provider) and its own
 * key. A real redis-server is shared by the authority and the guard. The agent process runs
 * under a recorder of every module it resolves and every file it reads.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { runControlPlane, type ControlPlaneRun } from '../../../examples/control-plane/control-plane.js';
import { redisTestsEnabled } from '../../support/redis-server.js';

const RECORDER = resolve(import.meta.dirname, 'record-access.mjs');
const dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-control-plane-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function recorded(log: string): { env: string[]; reads: string[]; modules: string[] } {
  const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const of = (kind: string) => lines.filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1));
  return { env: of('env').join(' ').split(' ').filter(Boolean), reads: of('read'), modules: of('module') };
}

describe.runIf(redisTestsEnabled())('control plane in three processes', () => {
  let run: ControlPlaneRun;
  const agentLog = join(dir, 'agent-access.log');

  test('the agent obtains a capability, calls within it, is refused outside its ceiling, and an emergency stop ends it', { timeout: 120_000 }, async () => {
    writeFileSync(agentLog, '');
    run = await runControlPlane({ agentExecArgv: ['--import', RECORDER], agentEnv: { RECORD_ACCESS_LOG: agentLog } });
    expect(run.events.map((e) => [e.step, e.outcome, e.code ?? e.tokenType ?? ''])).toEqual([
      ['request tickets.read and email.send', 'granted', 'DPoP'],
      ['read ticket T-4711', 'allowed', ''],
      ['email customer@example.com', 'allowed', ''],
      ['email eve@evil.example', 'denied', 'arguments_out_of_scope'],
      ['request payments.refund (outside the ceiling)', 'refused', 'invalid_authorization_details'],
      ['waiting for the emergency stop', 'waiting', ''],
      ['admin stops agent support-agent', 'stopped', ''],
      ['read ticket T-4711 after the stop', 'denied', 'capability_revoked'],
      ['request a fresh capability after the stop', 'refused', 'access_denied'],
    ]);
    expect(run.events.find((e) => e.outcome === 'refused')?.description).toContain('payments.refund');
  });

  test('the agent process never had the authority key: not in its environment, never read, no authority module loaded', () => {
    expect(run.environments.authority).toContain('AUTHORITY_KEY_FILE');
    expect(run.environments.agent).not.toContain('AUTHORITY_KEY_FILE');
    expect(run.environments.tools).not.toContain('AUTHORITY_KEY_FILE');
    const agent = recorded(agentLog);
    expect(agent.env).toContain('AUTHORITY_URL');
    expect(agent.env).not.toContain('AUTHORITY_KEY_FILE');
    expect(agent.reads.filter((p) => p.startsWith(dirname(run.keyFile)))).toEqual([]);
    // The recorder saw the agent's own imports (so it was running), and none of the authority's.
    expect(agent.modules.some((m) => m.endsWith('/src/client/authority-client.ts'))).toBe(true);
    expect(agent.modules.some((m) => m.endsWith('/node_modules/oauth4webapi/build/index.js'))).toBe(true);
    expect(agent.modules.filter((m) => /\/src\/server\/|\/src\/capability\/(authority|signer)\.ts$|\/src\/store\//.test(m))).toEqual([]);
    expect(readFileSync(agentLog, 'utf8')).not.toContain(run.keySecret);
  });

  test('calibration: the recorder does see a read of the key file, through a named ESM import', () => {
    const log = join(dir, 'calibration.log');
    const keyFile = join(dir, 'key.json');
    writeFileSync(log, '');
    writeFileSync(keyFile, '{}');
    execFileSync(process.execPath, ['--import', RECORDER, '--input-type=module', '-e', `import { readFileSync } from 'node:fs'; readFileSync(${JSON.stringify(keyFile)});`], {
      env: { PATH: process.env.PATH ?? '', RECORD_ACCESS_LOG: log },
      stdio: 'pipe',
    });
    expect(recorded(log).reads).toContain(keyFile);
  });
});
