import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { createRedisStore } from '../../src/store/redis.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { cliHarness, type CliHarness } from './support.js';

const ISSUER = 'https://authz.example.com';
const AGENT = 'spiffe://example.org/agents/support';

describe.runIf(redisTestsEnabled())('tessera revoke (real redis-server)', () => {
  let server: RedisServer;
  let h: CliHarness;
  let client: ReturnType<typeof createClient>;

  beforeAll(async () => {
    server = await startRedisServer({ durable: false });
    h = cliHarness();
    client = createClient({ url: server.url, disableOfflineQueue: true });
    await client.connect();
  });
  afterAll(async () => {
    await client.quit();
    await server.stop();
    h.cleanup();
  });

  const setup = async () => {
    const authority = await createAuthority({ issuer: ISSUER, clock: h.clock });
    const store = createRedisStore({ client });
    const guard = createGuard({ audience: 'app', trust: { issuer: ISSUER, jwks: () => authority.jwks() }, store, clock: h.clock });
    const ran: string[] = [];
    const read = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({ id: z.string() }), risk: 'read' }, (a) => {
      ran.push(a.id);
      return a.id;
    });
    const grant = (intent = 'ticket-1') =>
      authority.grant({ agent: AGENT, audience: 'app', intent: { id: intent, purpose: 'p' }, tools: { 'tickets.read': {} }, ttl: '5m' });
    return { guard, read, grant, ran };
  };

  test('--capability: the guard on the same store denies the capability from the next call', async () => {
    const { guard, read, grant, ran } = await setup();
    const cap = await grant();
    await expect(read({ id: '1' }, { capability: cap })).resolves.toBe('1');
    const { id } = await guard.inspect(cap);
    const r = await h.run(['revoke', '--redis', server.url, `--capability=${id}`]);
    expect(r).toMatchObject({ code: 0, out: `revoked capability ${id}\n` });
    await expect(read({ id: '2' }, { capability: cap })).rejects.toMatchObject({ code: 'capability_revoked' });
    expect(ran).toEqual(['1']);
  });

  test('--intent from $TESSERA_REDIS_URL: capabilities granted until now are denied, later ones allowed', async () => {
    const { read, grant, ran } = await setup();
    const before = await grant('ticket-2');
    const r = await h.run(['revoke', '--intent', 'ticket-2'], '', { TESSERA_REDIS_URL: server.url });
    expect(r).toMatchObject({ code: 0, out: 'revoked every capability granted to intent ticket-2 until now\n' });
    await expect(read({ id: 'a' }, { capability: before })).rejects.toMatchObject({ code: 'capability_revoked' });
    h.clock.advance('2s');
    const after = await grant('ticket-2');
    await expect(read({ id: 'b' }, { capability: after })).resolves.toBe('b');
    expect(ran).toEqual(['b']);
    h.clock.set(h.clock.start);
  });

  test('an id that begins with "-" is taken whole in the --capability=<id> form', async () => {
    const r = await h.run(['revoke', '--redis', server.url, '--capability=-6vEyf00d7K4JE08hJJ9h']);
    expect(r).toMatchObject({ code: 0, out: 'revoked capability -6vEyf00d7K4JE08hJJ9h\n' });
  });

  test('--client ioredis: the revocation goes through ioredis when that is the package at hand', async () => {
    const { guard, read, grant } = await setup();
    const cap = await grant('ticket-io');
    const { id } = await guard.inspect(cap);
    const r = await h.run(['revoke', '--client', 'ioredis', '--redis', server.url, `--capability=${id}`]);
    expect(r).toMatchObject({ code: 0, out: `revoked capability ${id}\n` });
    await expect(read({ id: 'x' }, { capability: cap })).rejects.toMatchObject({ code: 'capability_revoked' });
  });

  test('--client ioredis with an unreachable Redis exits 1 naming host and port only', async () => {
    const r = await h.run(['revoke', '--client', 'ioredis', '--redis', 'redis://admin:hunter2-SECRET@127.0.0.1:1', '--agent', AGENT]);
    expect(r).toMatchObject({ code: 1, out: '', err: 'tessera revoke: could not reach Redis at 127.0.0.1:1\n' });
  });

  test('--agent revokes the agent\'s capabilities', async () => {
    const { read, grant } = await setup();
    const cap = await grant('ticket-3');
    expect((await h.run(['revoke', '--redis', server.url, '--agent', AGENT])).code).toBe(0);
    await expect(read({ id: 'x' }, { capability: cap })).rejects.toMatchObject({ code: 'capability_revoked' });
  });

  test('an unreachable Redis exits 1 naming host and port only, never the password', async () => {
    const r = await h.run(['revoke', '--redis', 'redis://admin:hunter2-SECRET@127.0.0.1:1', '--capability', 'abc']);
    expect(r).toMatchObject({ code: 1, out: '', err: 'tessera revoke: could not reach Redis at 127.0.0.1:1\n' });
  });

  test('usage: exactly one target, a redis:// URL', async () => {
    expect((await h.run(['revoke', '--redis', server.url])).code).toBe(2);
    expect((await h.run(['revoke', '--redis', server.url, '--agent', 'a', '--intent', 'b'])).code).toBe(2);
    expect((await h.run(['revoke', '--capability', 'x'])).code).toBe(2);
    const http = await h.run(['revoke', '--redis', 'http://user:SECRET@127.0.0.1:6379', '--capability', 'x']);
    expect(http).toMatchObject({ code: 2, err: 'tessera revoke: the Redis URL must start with redis:// or rediss://\n' });
  });
});
