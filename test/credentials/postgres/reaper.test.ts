/**
 * Crash safety: a guard process killed with SIGKILL mid-call leaves its role behind; a reaper in
 * another process drops it (ending the sessions it still has) within the credential's lifetime
 * plus the reaper interval, and touches nothing else.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createPostgresCredentials } from '../../../src/credentials/postgres/index.js';
import { postgresTestsEnabled } from '../../support/postgres-server.js';
import type { JitWorkerConfig, JitWorkerReport } from '../workers/jit-worker.js';
import { ADMIN, ADMIN_PASSWORD, sqlOutcome, startPgFixture, tryConnect, type PgFixture } from './support.js';

const enabled = postgresTestsEnabled();
const workerPath = fileURLToPath(new URL('../workers/jit-worker.ts', import.meta.url));
let fx: PgFixture;

beforeAll(async () => {
  if (enabled) fx = await startPgFixture();
}, 60_000);
afterAll(async () => {
  await fx?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!enabled)('the PostgreSQL role reaper', () => {
  test('a guard killed with SIGKILL mid-call leaves a role the reaper drops within TTL + interval, its sessions ended', async () => {
    const TTL_SEC = 2;
    const INTERVAL_MS = 1000;
    const config: JitWorkerConfig = { system: 'postgres', port: fx.server.port, adminUser: ADMIN, adminPassword: ADMIN_PASSWORD, ttlSec: TTL_SEC };
    const child = fork(workerPath, [JSON.stringify(config)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const report = await new Promise<JitWorkerReport>((resolve, reject) => {
      child.once('message', (m) => resolve(m as JitWorkerReport));
      child.once('exit', (code) => reject(new Error(`worker exited (${code}) before its tool ran`)));
    });
    child.removeAllListeners('exit');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    // The crash skipped the drop: the role is there, and a session opened with it before expiry stays open.
    expect(await fx.roles()).toEqual([report.principal]);
    const session = await tryConnect(report.token);
    if (typeof session === 'string') throw new Error(`could not log in with the leaked role: ${session}`);
    session.on('error', () => undefined);

    const errors: unknown[] = [];
    const reaper = createPostgresCredentials({
      admin: fx.admin,
      connection: { host: fx.server.host, port: fx.server.port, database: fx.server.database },
      tools: {},
      reapIntervalMs: INTERVAL_MS,
      onReapError: (e) => errors.push(e),
    });
    try {
      let goneAt = 0;
      while (Date.now() < report.expiresAt + INTERVAL_MS + 5_000) {
        if ((await fx.roles()).length === 0) {
          goneAt = Date.now();
          break;
        }
        await sleep(25);
      }
      expect(goneAt).toBeGreaterThan(0);
      // Never before its expiry, and at most one interval (plus the sweep's own round trips) after it.
      expect(goneAt).toBeGreaterThanOrEqual(report.expiresAt);
      expect(goneAt - report.expiresAt).toBeLessThanOrEqual(INTERVAL_MS + 500);
      expect(await sqlOutcome(session, 'SELECT 1')).not.toBe('ok');
      expect(await tryConnect(report.token)).toBe('28P01');
      expect(errors).toEqual([]);
    } finally {
      reaper.close();
      await session.end().catch(() => undefined);
    }
  }, 30_000);

  test('a sweep drops only expired roles with its prefix that the provisioning role created', async () => {
    const p = createPostgresCredentials({
      admin: fx.admin,
      connection: { host: fx.server.host, port: fx.server.port, database: fx.server.database },
      tools: {},
      reapIntervalMs: 0,
    });
    const past = "VALID UNTIL '2000-01-01'";
    // Expired, with the prefix, but not created by the provisioning role: never touched.
    await fx.su.query(`CREATE ROLE tessera_jit_someone_elses LOGIN ${past}`);
    // Created by the provisioning role the way the provider does, with another prefix, or not yet expired.
    const a = new pg.Client({ host: fx.server.host, port: fx.server.port, user: ADMIN, password: ADMIN_PASSWORD, database: 'postgres' });
    await a.connect();
    await a.query(`CREATE ROLE tessera_jit_expired LOGIN ${past}; GRANT tessera_jit_expired TO CURRENT_USER; GRANT SELECT ON tickets TO tessera_jit_expired`);
    await a.query(`CREATE ROLE other_prefix_expired LOGIN ${past}; GRANT other_prefix_expired TO CURRENT_USER`);
    await a.query(`CREATE ROLE tessera_jit_current LOGIN VALID UNTIL '2999-01-01'; GRANT tessera_jit_current TO CURRENT_USER`);
    await a.query(`CREATE ROLE tessera_jit_forever LOGIN; GRANT tessera_jit_forever TO CURRENT_USER`);
    try {
      // Two processes sweeping at once: both finish, the role is dropped once.
      const q = createPostgresCredentials({ admin: a, connection: { host: 'x', database: 'postgres' }, tools: {}, reapIntervalMs: 0 });
      const [n1, n2] = await Promise.all([p.reap(), q.reap()]);
      expect(n1 + n2).toBe(1);
      expect(await fx.roles('')).toEqual(expect.arrayContaining(['tessera_jit_someone_elses', 'other_prefix_expired', 'tessera_jit_current', 'tessera_jit_forever']));
      expect(await fx.roles('tessera_jit_')).not.toContain('tessera_jit_expired');
      const grants = await fx.su.query(`SELECT count(*)::int AS n FROM information_schema.role_table_grants WHERE grantee = 'tessera_jit_expired'`);
      expect(grants.rows[0]).toEqual({ n: 0 });
    } finally {
      await a.query('DROP ROLE other_prefix_expired; DROP ROLE tessera_jit_current; DROP ROLE tessera_jit_forever');
      await fx.su.query('DROP ROLE tessera_jit_someone_elses');
      await a.end();
    }
  });
});
