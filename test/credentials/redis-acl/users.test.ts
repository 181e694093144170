/**
 * Per-call Redis ACL users against a real redis-server, provisioned through both client kinds by
 * a provisioning user that holds only `+acl|setuser +acl|deluser +acl|users`.
 */
import { inspect } from 'node:util';
import { Redis as IORedis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool, isToolDeniedError, type Guard, type GuardOptions, type Authority } from '../../../src/index.js';
import { createRedisAclCredentials, redisAclAuth, type RedisAclCredentialProvider, type RedisCommandClient } from '../../../src/redis.js';
import { createManualClock } from '../../../src/testing/clock.js';
import { createSpanCapture } from '../../support/otel.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../../support/redis-server.js';

const enabled = redisTestsEnabled();
const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'support-app';
const AGENT = 'spiffe://example.org/agents/support';
const ADMIN = 'tessera_admin';
const ADMIN_PASSWORD = 'redis-admin-password-for-tests-only';

let server: RedisServer;
let root: IORedis;
const admins: { kind: string; client: RedisCommandClient; close(): Promise<void> }[] = [];
const providers: RedisAclCredentialProvider[] = [];
const capture = createSpanCapture();

beforeAll(async () => {
  if (!enabled) return;
  server = await startRedisServer({ durable: false });
  root = new IORedis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
  await root.connect();
  await root.call('ACL', 'SETUSER', ADMIN, 'on', `>${ADMIN_PASSWORD}`, '-@all', '+acl|setuser', '+acl|deluser', '+acl|users');
  await root.set('tickets:4711:subject', 'printer on fire');
  await root.set('tickets:4712:subject', 'cannot log in');
  await root.set('payroll:1', '100000');
  const io = new IORedis({ host: '127.0.0.1', port: server.port, username: ADMIN, password: ADMIN_PASSWORD, lazyConnect: true, enableReadyCheck: false });
  await io.connect();
  admins.push({ kind: 'ioredis', client: io, close: async () => void io.disconnect() });
  const nr = createClient({ socket: { host: '127.0.0.1', port: server.port }, username: ADMIN, password: ADMIN_PASSWORD });
  nr.on('error', () => undefined);
  await nr.connect();
  admins.push({ kind: 'node-redis', client: nr, close: async () => void nr.destroy() });
}, 30_000);

afterAll(async () => {
  for (const p of providers) p.close();
  for (const a of admins) await a.close();
  root?.disconnect();
  await server?.stop();
  await capture.shutdown();
});

function provider(admin: RedisCommandClient, extra: Partial<Parameters<typeof createRedisAclCredentials>[0]> = {}): RedisAclCredentialProvider {
  const p = createRedisAclCredentials({
    admin,
    connection: { host: '127.0.0.1', port: server.port },
    tools: {
      'tickets.read': { keys: ['tickets:{{ticket}}:*'], commands: ['get', 'hget'] },
      'tickets.write': { keys: ['tickets:{{ticket}}:*'], commands: ['get', 'set'] },
    },
    reapIntervalMs: 0,
    ...extra,
  });
  providers.push(p);
  return p;
}

async function redisGuard(p: RedisAclCredentialProvider, overrides: Partial<GuardOptions> = {}): Promise<{ guard: Guard; authority: Authority }> {
  const clock = createManualClock(Date.now());
  const authority = await createAuthority({ issuer: ISSUER, clock });
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => authority.jwks() }, clock, credentials: { provider: p }, ...overrides });
  return { guard, authority };
}

const grant = (authority: Authority, tools: Parameters<Authority['grant']>[0]['tools']) =>
  authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' }, tools, ttl: '5m' });

/** The reply or the error class of each command, run as the user the tool was handed. */
async function runAs(url: string, commands: readonly string[][]): Promise<string[]> {
  const { username, password, port } = new URL(url);
  const c = new IORedis({ host: '127.0.0.1', port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  await c.connect();
  const auth = await c.call('AUTH', decodeURIComponent(username), decodeURIComponent(password)).then(String, (e: Error) => /^([A-Z]+)/.exec(e.message)?.[1] ?? e.message);
  if (auth !== 'OK') {
    c.disconnect();
    return [`auth:${auth}`];
  }
  const out: string[] = [];
  for (const cmd of commands) {
    out.push(
      await c.call(cmd[0]!, ...cmd.slice(1)).then(
        (r) => String(r),
        (e: Error) => /^([A-Z]+)/.exec(e.message)?.[1] ?? e.message,
      ),
    );
  }
  c.disconnect();
  return out;
}

const usersWithPrefix = async (prefix = 'tessera_jit_'): Promise<string[]> => ((await root.call('ACL', 'USERS')) as string[]).filter((u) => u.startsWith(prefix));

describe.skipIf(!enabled)('Redis ACL users per call', () => {
  test('the provisioning user holds only ACL SETUSER, DELUSER and USERS', async () => {
    const rules = (await root.call('ACL', 'GETUSER', ADMIN)) as unknown[];
    const commands = String(rules[rules.indexOf('commands') + 1]);
    expect(commands.split(' ').sort()).toEqual(['+acl|deluser', '+acl|setuser', '+acl|users', '-@all']);
  });

  for (const kind of ['ioredis', 'node-redis']) {
    test(`the user reads the granted keys with the declared commands and nothing else (provisioned through ${kind})`, async () => {
      const admin = admins.find((a) => a.kind === kind)!.client;
      const { guard, authority } = await redisGuard(provider(admin));
      const read = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticket: z.string() }), risk: 'read' }, (_a, ctx) =>
        runAs(ctx.credential.token, [
          ['GET', 'tickets:4711:subject'],
          ['GET', 'tickets:4712:subject'],
          ['GET', 'payroll:1'],
          ['SET', 'tickets:4711:subject', 'x'],
          ['KEYS', '*'],
          ['FLUSHALL'],
        ]),
      );
      const cap = await grant(authority, { 'tickets.read': { args: { ticket: { eq: '4711' } } } });
      expect(await guard.withCapability(cap, () => read({ ticket: '4711' }))).toEqual(['printer on fire', 'NOPERM', 'NOPERM', 'NOPERM', 'NOPERM', 'NOPERM']);
      expect(await usersWithPrefix()).toEqual([]);
    });
  }

  test('glob characters in an argument are matched literally, never as a wider pattern', async () => {
    const { guard, authority } = await redisGuard(provider(admins[0]!.client));
    const read = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticket: z.string() }), risk: 'read' }, (_a, ctx) =>
      runAs(ctx.credential.token, [['GET', 'tickets:4711:subject'], ['GET', 'tickets:*:subject']]),
    );
    const cap = await grant(authority, { 'tickets.read': { args: { ticket: { startsWith: '47' } } } });
    // Only the key literally named `tickets:47*:subject` would be readable (it does not exist: nil).
    expect(await guard.withCapability(cap, () => read({ ticket: '47*' }))).toEqual(['NOPERM', 'NOPERM']);
  });

  test('after the call the user is deleted, its connections are closed and its password no longer logs in', async () => {
    const { guard, authority } = await redisGuard(provider(admins[1]!.client));
    let url = '';
    let held: IORedis | undefined;
    const read = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticket: z.string() }), risk: 'read' }, async (_a, ctx) => {
      url = ctx.credential.token;
      held = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      held.on('error', () => undefined);
      await held.connect();
      return held.get('tickets:4711:subject');
    });
    const cap = await grant(authority, { 'tickets.read': {} });
    expect(await guard.withCapability(cap, () => read({ ticket: '4711' }))).toBe('printer on fire');
    expect(await usersWithPrefix()).toEqual([]);
    // The connection the tool kept open was closed when its user was deleted.
    expect(await held!.get('tickets:4711:subject').then(String, (e: Error) => e.message)).toMatch(/Connection is closed|closed/i);
    expect(await runAs(url, [['GET', 'tickets:4711:subject']])).toEqual(['auth:WRONGPASS']);
  });

  test('50 concurrent calls each get their own user, and all are gone afterwards', async () => {
    const { guard, authority } = await redisGuard(provider(admins[0]!.client));
    const read = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticket: z.string() }), risk: 'read' }, (_a, ctx) => redisAclAuth(ctx.credential).username);
    const cap = await grant(authority, { 'tickets.read': {} });
    const users = await guard.withCapability(cap, () => Promise.all(Array.from({ length: 50 }, (_, i) => read({ ticket: String(4700 + i) }))));
    expect(new Set(users).size).toBe(50);
    expect(await usersWithPrefix()).toEqual([]);
  });

  test('the span names the user and the declared patterns; the password and the argument value are nowhere', async () => {
    capture.reset();
    const { guard, authority } = await redisGuard(provider(admins[0]!.client), { telemetry: { tracer: capture.tracer } });
    const seen: { text: string[]; password: string; user: string }[] = [];
    const read = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticket: z.string() }), risk: 'read' }, (_a, ctx) => {
      const { username, password } = redisAclAuth(ctx.credential);
      seen.push({ text: [inspect(ctx.credential, { showHidden: true, depth: 10 }), JSON.stringify(ctx.credential), inspect({ ...ctx.credential })], password, user: username });
    });
    const cap = await grant(authority, { 'tickets.read': {} });
    await guard.withCapability(cap, () => read({ ticket: 'secret-ticket-98765' }));
    const [{ text, password, user }] = seen as [(typeof seen)[0]];
    for (const t of text) {
      expect(t).toContain(user);
      expect(t).not.toContain(password);
    }
    const [span] = await capture.spans();
    const recorded = JSON.stringify({ attributes: span!.attributes, events: span!.events });
    expect(recorded).not.toContain(password);
    expect(recorded).not.toContain('secret-ticket-98765');
    expect(span!.events.map((e) => [e.name, e.attributes])).toEqual([
      ['tessera.credential.provisioned', { 'tessera.credential.system': 'redis', 'tessera.credential.principal': user, 'tessera.credential.privileges': '~tickets:{{ticket}}:* +get +hget' }],
      ['tessera.credential.revoked', { 'tessera.credential.system': 'redis', 'tessera.credential.principal': user }],
    ]);
  });

  test('the server is given the password hash only: ACL GETUSER shows a SHA-256 of the password', async () => {
    const { guard, authority } = await redisGuard(provider(admins[0]!.client));
    const read = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticket: z.string() }), risk: 'read' }, async (_a, ctx) => {
      const { username, password } = redisAclAuth(ctx.credential);
      const info = (await root.call('ACL', 'GETUSER', username)) as unknown[];
      const { createHash } = await import('node:crypto');
      return { passwords: info[info.indexOf('passwords') + 1], hash: createHash('sha256').update(password).digest('hex') };
    });
    const cap = await grant(authority, { 'tickets.read': {} });
    const { passwords, hash } = await guard.withCapability(cap, () => read({ ticket: '4711' }));
    expect(passwords).toEqual([hash]);
  });
});

describe.skipIf(!enabled)('Redis provisioning failures deny the call credential_unavailable; the tool never runs', () => {
  async function attempt(p: RedisAclCredentialProvider, tool: string, args: { ticket: unknown }, overrides: Partial<GuardOptions> = {}) {
    const { guard, authority } = await redisGuard(p, overrides);
    let ran = false;
    const t = guardTool(guard, { name: tool, description: 't', input: z.object({ ticket: z.unknown() }), risk: 'read' }, () => {
      ran = true;
    });
    const cap = await grant(authority, { [tool]: {} });
    const err = await guard.withCapability(cap, () => t(args)).then(() => undefined, (e: unknown) => e);
    expect(isToolDeniedError(err)).toBe(true);
    return { code: (err as { code: string }).code, reason: (err as { reason: string }).reason, ran, err };
  }

  test('a tool with no declared access', async () => {
    const r = await attempt(provider(admins[0]!.client), 'payroll.read', { ticket: '1' });
    expect([r.code, r.ran, r.reason]).toEqual(['credential_unavailable', false, expect.stringMatching(/no Redis access is declared for "payroll.read"/)]);
  });

  test('a key pattern argument that is not a string or an integer', async () => {
    const r = await attempt(provider(admins[0]!.client), 'tickets.read', { ticket: { $ne: 1 } });
    expect([r.code, r.ran]).toEqual(['credential_unavailable', false]);
    expect(await usersWithPrefix()).toEqual([]);
  });

  test('a provisioning user without ACL SETUSER', async () => {
    await root.call('ACL', 'SETUSER', 'weak_admin', 'on', '>weak-password', '-@all', '+acl|users');
    const weak = new IORedis({ host: '127.0.0.1', port: server.port, username: 'weak_admin', password: 'weak-password', lazyConnect: true, enableReadyCheck: false });
    await weak.connect();
    try {
      const r = await attempt(provider(weak), 'tickets.read', { ticket: '4711' });
      expect([r.code, r.ran, r.reason]).toEqual(['credential_unavailable', false, expect.stringMatching(/\(NOPERM\)/)]);
      expect(inspect(r.err, { showHidden: true, depth: 10 })).not.toContain('weak-password');
    } finally {
      weak.disconnect();
    }
  });

  test('a server that does not answer within the deadline; the user created late is deleted', async () => {
    const blocker = new IORedis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
    await blocker.connect();
    // DEBUG SLEEP blocks the whole server, well past the deadline.
    const sleeping = blocker.call('DEBUG', 'SLEEP', '0.8');
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const r = await attempt(provider(admins[0]!.client), 'tickets.read', { ticket: '4711' }, { timeouts: { credentialMs: 200 } });
    expect([r.code, r.ran]).toEqual(['credential_unavailable', false]);
    expect(r.reason).toMatch(/did not answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(700);
    await sleeping;
    blocker.disconnect();
    const deadline = Date.now() + 5_000;
    while ((await usersWithPrefix()).length > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(await usersWithPrefix()).toEqual([]);
  });
});
