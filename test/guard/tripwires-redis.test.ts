/**
 * Tripwires on a real redis-server: a burst counted across worker processes stops the agent in
 * every one of them, a person's lift from a third process undoes it, every key the tripwires write
 * expires, and a store that fails the tripwires holds the agent or only reports, as configured.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { redisLayout } from '../../src/store/redis-layout.js';
import { createAuthority, createGuard, guardTool, liftQuarantine, listQuarantines, ToolDeniedError, type Authority, type TripEvent } from '../../src/index.js';
import { createRedisStore } from '../../src/store/redis.js';
import { z } from 'zod';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { connectClient, type TestClient } from '../store/redis-clients.js';
import { manualClock } from '../support/fixtures.js';
import { startTripwireWorker, type TripwireWorker } from './tripwire-workers.js';

const enabled = redisTestsEnabled();
const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'support-app';
const AGENT = 'spiffe://example.org/agents/support';

describe.skipIf(!enabled)('tripwires across processes on one Redis', () => {
  let server: RedisServer;
  let authority: Authority;
  let local: TestClient;
  let workers: TripwireWorker[] = [];
  let n = 0;
  const prefix = (): string => `trip${++n}:`;
  const grant = (agent = AGENT) =>
    authority.grant({ agent, audience: AUDIENCE, intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' }, tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } } }, ttl: '5m' });

  beforeAll(async () => {
    server = await startRedisServer();
    authority = await createAuthority({ issuer: ISSUER });
    local = await connectClient('ioredis', server.port);
  }, 30_000);
  afterAll(async () => {
    for (const w of workers) w.stop();
    await local?.close();
    await server?.stop();
  });

  const start = async (p: string, count: number): Promise<TripwireWorker[]> => {
    const started = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        startTripwireWorker({ port: server.port, kind: i % 2 === 0 ? 'ioredis' : 'node-redis', prefix: p, issuer: ISSUER, audience: AUDIENCE, jwks: authority.jwks(), threshold: 5 }),
      ),
    );
    workers.push(...started);
    return started;
  };

  test("a burst in one worker trips; the agent's next call in another worker is refused capability_revoked", async () => {
    const p = prefix();
    const [a, b] = await start(p, 2);
    const cap = await grant();
    expect((await b!.call(cap, '4711')).outcome).toBe('allowed');
    for (let i = 0; i < 5; i++) expect((await a!.call(cap, `probe-${i}`)).outcome).toBe('arguments_out_of_scope');
    const refused = await b!.call(cap, '4711');
    expect(refused).toMatchObject({ outcome: 'capability_revoked', ran: 1 });
    // Another agent on the same store is untouched.
    expect((await b!.call(await grant('spiffe://example.org/agents/billing'), '4711')).outcome).toBe('allowed');

    // A person lifts it from a third process; both workers take the agent's calls again.
    const store = createRedisStore({ client: local.client, prefix: p });
    const [record] = await listQuarantines(store, Date.now());
    expect(record).toMatchObject({ agent: AGENT, tripwire: 'denial_burst', by: AUDIENCE, trips: 1 });
    await liftQuarantine(store, AGENT, { by: 'ann@example.com', reason: 'probing was a test harness', atMs: Date.now() });
    expect((await a!.call(cap, '4711')).outcome).toBe('allowed');
    expect((await b!.call(cap, '4711')).outcome).toBe('allowed');
    store.close();
  }, 60_000);

  test('denials are counted across processes: three in one worker and two in another trip the burst of five', async () => {
    const p = prefix();
    const [a, b] = await start(p, 2);
    const cap = await grant();
    for (let i = 0; i < 3; i++) expect((await a!.call(cap, `x${i}`)).outcome).toBe('arguments_out_of_scope');
    for (let i = 0; i < 2; i++) expect((await b!.call(cap, `y${i}`)).outcome).toBe('arguments_out_of_scope');
    expect((await a!.call(cap, '4711')).outcome).toBe('capability_revoked');
  }, 60_000);

  test('every key the tripwires write expires, and one agent’s count lives under its own hash tag', async () => {
    const p = prefix();
    const [a] = await start(p, 1);
    const cap = await grant();
    for (let i = 0; i < 5; i++) await a!.call(cap, `z${i}`);
    const keys = (await local.command('KEYS', `${p}*`)) as string[];
    const layout = redisLayout(p);
    expect(keys.sort()).toEqual(expect.arrayContaining([...layout.copies(`agent:${AGENT}`), layout.home('trip:quarantines'), layout.home(`trip:{${AGENT}}:denials`)]));
    for (const key of keys) expect(Number(await local.command('PTTL', key))).toBeGreaterThan(0);
    // The count keeps at most `threshold` times and expires one window after the last denial.
    for (let i = 0; i < 5; i++) await a!.call(cap, `w${i}`);
    expect(Number(await local.command('LLEN', layout.home(`trip:{${AGENT}}:denials`)))).toBe(5);
    expect(Number(await local.command('PTTL', layout.home(`trip:{${AGENT}}:denials`)))).toBeLessThanOrEqual(60_000);
  }, 60_000);
});

describe.skipIf(!enabled)('a store that fails the tripwires', () => {
  let server: RedisServer;
  let local: TestClient;
  beforeAll(async () => {
    server = await startRedisServer();
    local = await connectClient('ioredis', server.port);
  }, 30_000);
  afterAll(async () => {
    await local?.close();
    await server?.stop();
  });

  const guardOn = async (p: string, onStoreFailure: 'deny_agent' | 'alert') => {
    const clock = manualClock();
    const authority = await createAuthority({ issuer: ISSUER, clock });
    const trips: TripEvent[] = [];
    const guard = createGuard({
      audience: AUDIENCE,
      trust: { issuer: ISSUER, jwks: authority.jwks() },
      clock,
      store: createRedisStore({ client: local.client, prefix: p }),
      tripwires: { denialBurst: { threshold: 3 }, onStoreFailure, onTrip: (t) => void trips.push(t) },
    });
    const read = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }), risk: 'read' }, async () => 'ok');
    const cap = await authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } } }, ttl: '10m' });
    const call = (ticketId: string) =>
      read({ ticketId }, { capability: cap }).then(
        () => 'allowed',
        (e: unknown) => (e instanceof ToolDeniedError ? e.code : 'unexpected'),
      );
    // Another entry under the count's name: the count fails, as it would on a broken store.
    await local.command('HSET', redisLayout(p).home(`trip:{${AGENT}}:denials`), 'x', '1');
    return { call, trips, clock };
  };

  test("deny_agent: a denial that cannot be counted holds the agent in this process for holdFor (5 minutes): its calls are refused capability_revoked", async () => {
    const { call, trips, clock } = await guardOn('fail1:', 'deny_agent');
    expect(await call('1')).toBe('arguments_out_of_scope');
    expect(await call('4711')).toBe('capability_revoked');
    expect(trips.map((t) => [t.tripwire, t.stop, t.storeError])).toEqual([['denial_burst', 'local', 'RedisStoreError']]);
    clock.advance(299_000);
    expect(await call('4711')).toBe('capability_revoked');
    clock.advance(1_000);
    expect(await call('4711')).toBe('allowed');
  });

  test('alert: the same failure is reported and calls go on', async () => {
    const { call, trips } = await guardOn('fail2:', 'alert');
    expect(await call('1')).toBe('arguments_out_of_scope');
    expect(await call('4711')).toBe('allowed');
    expect(trips.map((t) => [t.tripwire, t.stop, t.storeError])).toEqual([['denial_burst', 'none', 'RedisStoreError']]);
  });
});
