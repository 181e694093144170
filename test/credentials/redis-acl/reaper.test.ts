/**
 * Crash safety for Redis ACL users: a guard killed with SIGKILL mid-call leaves its user behind;
 * a reaper in another process deletes it (closing its connections) within the credential's
 * lifetime plus the reaper interval, and touches no other user.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis as IORedis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRedisAclCredentials } from '../../../src/redis.js';
import { createManualClock } from '../../../src/testing/clock.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../../support/redis-server.js';
import type { JitWorkerConfig, JitWorkerReport } from '../workers/jit-worker.js';

const enabled = redisTestsEnabled();
const workerPath = fileURLToPath(new URL('../workers/jit-worker.ts', import.meta.url));
const ADMIN = 'tessera_admin';
const ADMIN_PASSWORD = 'redis-admin-password-for-tests-only';
let server: RedisServer;
let root: IORedis;
let admin: IORedis;

beforeAll(async () => {
  if (!enabled) return;
  server = await startRedisServer({ durable: false });
  root = new IORedis({ host: '127.0.0.1', port: server.port });
  await root.call('ACL', 'SETUSER', ADMIN, 'on', `>${ADMIN_PASSWORD}`, '-@all', '+acl|setuser', '+acl|deluser', '+acl|users');
  admin = new IORedis({ host: '127.0.0.1', port: server.port, username: ADMIN, password: ADMIN_PASSWORD, enableReadyCheck: false });
}, 30_000);
afterAll(async () => {
  admin?.disconnect();
  root?.disconnect();
  await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const users = async (): Promise<string[]> => ((await root.call('ACL', 'USERS')) as string[]).filter((u) => u.startsWith('tessera_jit_'));

describe.skipIf(!enabled)('the Redis ACL user reaper', () => {
  test('a guard killed with SIGKILL mid-call leaves a user the reaper deletes within TTL + interval, its connections closed', async () => {
    const TTL_SEC = 2;
    const INTERVAL_MS = 1000;
    const config: JitWorkerConfig = { system: 'redis', port: server.port, adminUser: ADMIN, adminPassword: ADMIN_PASSWORD, ttlSec: TTL_SEC };
    const child = fork(workerPath, [JSON.stringify(config)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const report = await new Promise<JitWorkerReport>((resolve, reject) => {
      child.once('message', (m) => resolve(m as JitWorkerReport));
      child.once('exit', (code) => reject(new Error(`worker exited (${code}) before its tool ran`)));
    });
    child.removeAllListeners('exit');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(await users()).toEqual([report.principal]);
    // A connection made with the leaked user before expiry: the reaper's delete closes it.
    const { username, password } = new URL(report.token);
    const held = new IORedis({ host: '127.0.0.1', port: server.port, username, password: decodeURIComponent(password), maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    held.on('error', () => undefined);
    await held.call('PING').catch(() => undefined);
    expect(held.status).toBe('ready');

    const errors: unknown[] = [];
    const reaper = createRedisAclCredentials({ admin, connection: { host: '127.0.0.1', port: server.port }, tools: {}, reapIntervalMs: INTERVAL_MS, onReapError: (e) => errors.push(e) });
    try {
      let goneAt = 0;
      while (Date.now() < report.expiresAt + INTERVAL_MS + 5_000) {
        if ((await users()).length === 0) {
          goneAt = Date.now();
          break;
        }
        await sleep(25);
      }
      expect(goneAt).toBeGreaterThan(0);
      expect(goneAt).toBeGreaterThanOrEqual(report.expiresAt);
      expect(goneAt - report.expiresAt).toBeLessThanOrEqual(INTERVAL_MS + 500);
      await sleep(50);
      expect(held.status).not.toBe('ready');
      expect(errors).toEqual([]);
    } finally {
      reaper.close();
      held.disconnect();
    }
  }, 30_000);

  test('a sweep deletes only users with its prefix whose expiry has passed', async () => {
    const clock = createManualClock(Date.now());
    const expired = Math.floor(clock() / 1000) - 1;
    const later = Math.floor(clock() / 1000) + 60;
    const name = (sec: number) => `tessera_jit_${sec}_${'a'.repeat(26)}`;
    await root.call('ACL', 'SETUSER', name(expired), 'off');
    await root.call('ACL', 'SETUSER', name(later), 'off');
    await root.call('ACL', 'SETUSER', 'tessera_jit_not_a_credential', 'off');
    await root.call('ACL', 'SETUSER', `other_${expired}_${'a'.repeat(26)}`, 'off');
    const p = createRedisAclCredentials({ admin, connection: { host: '127.0.0.1' }, tools: {}, reapIntervalMs: 0, clock });
    expect(await p.reap()).toBe(1);
    expect((await users()).sort()).toEqual([name(later), 'tessera_jit_not_a_credential'].sort());
    clock.advance(61_000);
    expect(await p.reap()).toBe(1);
    expect(await users()).toEqual(['tessera_jit_not_a_credential']);
    await root.call('ACL', 'DELUSER', 'tessera_jit_not_a_credential', `other_${expired}_${'a'.repeat(26)}`);
  });
});
