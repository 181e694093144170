/**
 * The Redis store beyond the shared contract: options, key names and expiry, the script cache,
 * timeouts, corrupt entries and a closed store. Every failure path rejects with
 * `store_unavailable`, and the guard turns it into a denial with the tool body never run.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { createGuard, ToolDeniedError, verifyCallCredential, guardTool } from '../../src/index.js';
import { createRedisStore, RedisStoreError, type RedisStore } from '../../src/store/redis.js';
import { AUDIENCE, ISSUER, setup } from '../support/fixtures.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { CLIENT_KINDS, connectClient, copies, home, type TestClient } from './redis-clients.js';

const enabled = redisTestsEnabled();
const TTL = 60_000;
const empty = { revocations: [], counters: [], once: [], credentials: [] };

describe('createRedisStore options', () => {
  test('a value that is not a Redis client is refused at construction, naming the option', () => {
    expect(() => createRedisStore({ client: {} as never })).toThrow(/createRedisStore options\.client: must be an ioredis or node-redis client/);
  });
  test('an empty prefix is refused', () => {
    const client = { evalsha: async () => 0, eval: async () => 0 };
    expect(() => createRedisStore({ client, prefix: '' })).toThrow(/createRedisStore options\.prefix/);
  });
  test('a prefix with a hash tag of its own is refused: it would put every key in one slot', () => {
    const client = { evalsha: async () => 0, eval: async () => 0 };
    expect(() => createRedisStore({ client, prefix: 'tessera}:' })).toThrow(TypeError);
    expect(() => createRedisStore({ client, prefix: '{tessera}:' })).toThrow(
      'createRedisStore options.prefix: must not contain "{" or "}": the store adds its own hash tag after the prefix',
    );
  });
  test('a timeout that is not a positive whole number of ms is refused', () => {
    const client = { evalsha: async () => 0, eval: async () => 0 };
    expect(() => createRedisStore({ client, timeoutMs: 0 })).toThrow(/createRedisStore options\.timeoutMs/);
    expect(() => createRedisStore({ client, timeoutMs: 1.5 })).toThrow(/createRedisStore options\.timeoutMs/);
  });
});

describe.skipIf(!enabled)('redis store on a real server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  describe.each(CLIENT_KINDS)('through %s', (kind) => {
    let c: TestClient;
    let admin: TestClient;
    let prefix: string;
    let store: RedisStore;
    let n = 0;
    beforeAll(async () => {
      c = await connectClient(kind, server.port);
      admin = await connectClient('ioredis', server.port);
    });
    afterAll(async () => {
      await c?.close();
      await admin?.close();
    });
    const freshStore = (extra: { timeoutMs?: number; onError?: (err: unknown) => void } = {}): RedisStore => {
      prefix = `t:${kind}:${++n}:`;
      store = createRedisStore({ client: c.client, prefix, timeoutMs: 2000, ...extra });
      return store;
    };
    const keysUnder = async (p: string): Promise<string[]> => ((await admin.command('KEYS', `${p}*`)) as string[]).sort();

    test('a guarded call writes only prefixed keys, each with an expiry', async () => {
      const s = freshStore();
      const { guard, sendEmail, grant, clock } = await setup({ store: s });
      const cap = await grant();
      const sent = await sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }, { capability: cap });
      const credentialId = decodeJwt(sent.token).jti;
      // The call has ended, so its credential was revoked: the downstream refuses it.
      await expect(
        verifyCallCredential(sent.token, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'email.send', store: s, clock }),
      ).rejects.toMatchObject({ code: 'replay_detected' });
      await guard.revokeIntent('ticket-4711');
      const capId = (await guard.inspect(cap)).id;
      const keys = await keysUnder('t:');
      const mine = keys.filter((k) => k.startsWith(prefix));
      expect(mine).toEqual([home(prefix, `calls:${capId}:email.send`), home(prefix, `cred:${credentialId}`), ...copies(prefix, 'intent:ticket-4711')].sort());
      for (const key of mine) {
        const pttl = Number(await admin.command('PTTL', key));
        expect(pttl, key).toBeGreaterThan(0);
        // docs/redis.md sizes the store at 128 bytes a key at most.
        expect(Number(await admin.command('MEMORY', 'USAGE', key)), key).toBeLessThanOrEqual(128);
      }
    });

    test('a revocation under the key layout of versions before the hash tags is not read: it must be re-issued', async () => {
      const s = freshStore();
      const key = 'cap:r00tBeforeUpgrade';
      const r = { ...empty, revocations: [{ key, issuedAtMs: 1_795_000_000_000 }] };
      await admin.command('SET', `${prefix}${key}`, String(Number.MAX_SAFE_INTEGER), 'PX', '60000');
      expect(await s.reserve(r)).toEqual({ ok: true });
      await s.revoke(key, Number.MAX_SAFE_INTEGER, TTL);
      expect(await s.reserve(r)).toEqual({ ok: false, reason: 'revoked', key });
    });

    test('when the server has forgotten its scripts (restart, SCRIPT FLUSH), calls still work', async () => {
      const s = freshStore();
      await admin.command('SCRIPT', 'FLUSH');
      expect(await s.reserve({ ...empty, counters: [{ key: 'calls:x:t', limit: 1, ttlMs: TTL }] })).toEqual({ ok: true });
      await admin.command('SCRIPT', 'FLUSH');
      expect(await s.reserve({ ...empty, counters: [{ key: 'calls:x:t', limit: 1, ttlMs: TTL }] })).toEqual({ ok: false, reason: 'limit', key: 'calls:x:t', limit: 1 });
    });

    test('a slow server is a denial at the configured timeout; the tool body never runs', async () => {
      const s = freshStore({ timeoutMs: 100 });
      const { readTicket, grant, ran } = await setup({ store: s });
      const cap = await grant();
      // DEBUG SLEEP blocks the whole server, as a stalled Redis would.
      const sleeping = admin.command('DEBUG', 'SLEEP', '0.6');
      await new Promise((r) => setTimeout(r, 20));
      const t0 = performance.now();
      const denial = await readTicket({ ticketId: '4711' }, { capability: cap }).catch((e: unknown) => e);
      const elapsed = performance.now() - t0;
      await sleeping;
      expect(denial).toBeInstanceOf(ToolDeniedError);
      expect((denial as ToolDeniedError).code).toBe('store_unavailable');
      expect((denial as ToolDeniedError).reason).toBe('Redis store timeout: no answer within 100 ms; calls are denied until it answers');
      expect(elapsed).toBeGreaterThanOrEqual(95);
      expect(elapsed).toBeLessThan(500);
      expect(ran).toEqual([]);
    });

    test('a corrupt entry fails closed: the call is denied naming the entry, without quoting its value or the server', async () => {
      const s = freshStore();
      const { readTicket, grant, ran } = await setup({ store: s });
      for (const key of copies(prefix, 'intent:ticket-4711')) await admin.command('SET', key, 'not-a-number-SENTINEL', 'PX', '60000');
      const denial = (await readTicket({ ticketId: '4711' }, { capability: await grant() }).catch((e: unknown) => e)) as ToolDeniedError;
      expect(denial).toBeInstanceOf(ToolDeniedError);
      expect(denial.code).toBe('store_unavailable');
      expect(denial.reason).toBe(
        'Redis store unexpected entry: a value of another shape under the revocation key "intent:ticket-4711"; calls are denied until it is removed',
      );
      expect(JSON.stringify(denial)).not.toMatch(/SENTINEL|user_script|127\.0\.0\.1/);
      expect(denial.message).not.toMatch(/SENTINEL|user_script|127\.0\.0\.1/);
      expect(ran).toEqual([]);
    });

    test('a closed store refuses every operation with store_unavailable', async () => {
      const s = freshStore();
      s.close();
      const err = await Promise.resolve(s.reserve(empty)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisStoreError);
      expect((err as RedisStoreError).code).toBe('store_unavailable');
      await expect(s.consumeCredential('x')).rejects.toMatchObject({ code: 'store_unavailable' });
      await expect(s.revoke('cap:x', 1, TTL)).rejects.toMatchObject({ code: 'store_unavailable' });
      await expect(s.consumeOnce('pop:x', TTL)).rejects.toMatchObject({ code: 'store_unavailable' });
    });

    test('an unconfirmed credential revocation that fails is reported to onError, not thrown', async () => {
      const errors: unknown[] = [];
      const s = freshStore({ onError: (e) => errors.push(e) });
      s.close();
      expect(s.revokeCredential('x', TTL)).toBeUndefined();
      await new Promise((r) => setTimeout(r, 10));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(RedisStoreError);
    });

    test('an unconfirmed credential revocation rides along with the next reservation', async () => {
      const s = freshStore();
      await s.reserve({ ...empty, credentials: [{ id: 'c1', ttlMs: TTL }] });
      expect(s.revokeCredential('c1', TTL)).toBeUndefined();
      await s.reserve(empty);
      // Read over another connection: the revocation is on the server once the reservation is.
      expect(await admin.command('GET', home(prefix, 'cred:c1'))).toBe('3');
    });

    test('an unconfirmed credential revocation with no operation after it is sent within one event-loop turn', async () => {
      const s = freshStore();
      await s.reserve({ ...empty, credentials: [{ id: 'c2', ttlMs: TTL }] });
      s.revokeCredential('c2', TTL);
      await new Promise((r) => setImmediate(r));
      // The revocation is on the wire; a PING over its connection returns after it.
      await c.command('PING');
      expect(await admin.command('GET', home(prefix, 'cred:c2'))).toBe('3');
    });

    test('a confirmed credential revocation waits for the server', async () => {
      prefix = `t:${kind}:${++n}:`;
      const s = createRedisStore({ client: c.client, prefix, awaitCredentialRevocation: true });
      const p = s.revokeCredential('c1', TTL);
      expect(p).toBeInstanceOf(Promise);
      await p;
      expect(await admin.command('GET', home(prefix, 'cred:c1'))).toBe('3');
    });

    test('a revocation through one guard stops the next call through another guard on the same server', async () => {
      const other = await connectClient(kind, server.port);
      try {
        const p = `t:${kind}:${++n}:`;
        const a = await setup({ store: createRedisStore({ client: c.client, prefix: p }) });
        // A second guard with its own connection, trusting the same authority: another process.
        const b = createGuard({
          audience: AUDIENCE,
          trust: { issuer: ISSUER, jwks: a.authority.jwks() },
          clock: a.clock,
          store: createRedisStore({ client: other.client, prefix: p }),
        });
        const ran: string[] = [];
        const read = guardTool(b, { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }), risk: 'read' }, async (args) => {
          ran.push(args.ticketId);
        });
        const cap = await a.grant();
        await read({ ticketId: '4711' }, { capability: cap });
        await a.guard.revokeCapability((await a.guard.inspect(cap)).id);
        await expect(read({ ticketId: '4711' }, { capability: cap })).rejects.toMatchObject({ code: 'capability_revoked' });
        expect(ran).toEqual(['4711']);
      } finally {
        await other.close();
      }
    });
  });
});
