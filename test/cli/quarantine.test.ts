import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { createRedisStore } from '../../src/store/redis.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { cliHarness, type CliHarness } from './support.js';

const ISSUER = 'https://authz.example.com';
const AGENT = 'spiffe://example.org/agents/support';

describe.runIf(redisTestsEnabled())('tessera quarantine (real redis-server)', () => {
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

  test('list shows who tripped and why; lift needs --by and --reason, lifts the stop, and list --all keeps who lifted it', async () => {
    const authority = await createAuthority({ issuer: ISSUER, clock: h.clock });
    const store = createRedisStore({ client, prefix: 'cli1:' });
    const guard = createGuard({ audience: 'app', trust: { issuer: ISSUER, jwks: () => authority.jwks() }, store, clock: h.clock, tripwires: { canaryTools: ['admin.export_all'] } });
    const read = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({}), risk: 'read' }, () => 'ok');
    const canary = guardTool(guard, { name: 'admin.export_all', description: 'Export', input: z.object({}), risk: 'read' }, () => 'ok');
    const cap = await authority.grant({ agent: AGENT, audience: 'app', intent: { id: 'ticket-1', purpose: 'p' }, tools: { 'tickets.read': {} }, ttl: '5m' });

    expect(await h.run(['quarantine', 'list', '--redis', server.url, '--prefix', 'cli1:'])).toMatchObject({ code: 0, out: 'no agent is quarantined\n' });
    await expect(canary({}, { capability: cap })).rejects.toMatchObject({ code: 'capability_revoked' });
    const at = new Date(h.clock()).toISOString();
    const listed = await h.run(['quarantine', 'list', '--prefix', 'cli1:'], '', { TESSERA_REDIS_URL: server.url });
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(`${AGENT}\n  canary at ${at} by guard app: called the canary tool "admin.export_all"\n  stopped: agent; expires `);

    expect(await h.run(['quarantine', 'lift', '--redis', server.url, '--prefix', 'cli1:', '--agent', AGENT, '--by', 'ann@example.com'])).toMatchObject({ code: 2 });
    await expect(read({}, { capability: cap })).rejects.toMatchObject({ code: 'capability_revoked' });
    const lifted = await h.run(['quarantine', 'lift', '--redis', server.url, '--prefix', 'cli1:', '--agent', AGENT, '--by', 'ann@example.com', '--reason', 'canary test']);
    expect(lifted).toMatchObject({ code: 0, out: `lifted the quarantine of ${AGENT}\n` });
    await expect(read({}, { capability: cap })).resolves.toBe('ok');

    expect(await h.run(['quarantine', 'list', '--redis', server.url, '--prefix', 'cli1:'])).toMatchObject({ code: 0, out: 'no agent is quarantined\n' });
    const all = await h.run(['quarantine', 'list', '--redis', server.url, '--prefix', 'cli1:', '--all', '--json']);
    expect(JSON.parse(all.out)).toMatchObject([{ agent: AGENT, tripwire: 'canary', lifted: { by: 'ann@example.com', reason: 'canary test', stop: 'lifted' } }]);
    expect(await h.run(['quarantine', 'lift', '--redis', server.url, '--prefix', 'cli1:', '--agent', AGENT, '--by', 'ann@example.com', '--reason', 'again'])).toMatchObject({
      code: 1,
      err: expect.stringContaining(`${AGENT} is not quarantined`),
    });
    store.close();
  });

  test('an unreachable store exits 1 and names only host and port', async () => {
    const r = await h.run(['quarantine', 'list', '--redis', 'redis://:s3cret@127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('could not reach Redis at 127.0.0.1:1');
    expect(r.err).not.toContain('s3cret');
  });
});
