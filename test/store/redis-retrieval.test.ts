/**
 * Per-intent retrieval bounds on a real Redis: two guards, each with its own client (ioredis and
 * node-redis), share one intent's sums; concurrent calls never pass the bound together.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, createMemoryStore, guardTool, isToolDeniedError, type Authority, type Guard } from '../../src/index.js';
import { createRedisStore, type RedisStore } from '../../src/store/redis.js';
import { retrievalKey } from '../../src/store/types.js';
import { manualClock } from '../support/fixtures.js';
import { createSpanCapture } from '../support/otel.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { connectClient, type TestClient } from './redis-clients.js';

const enabled = redisTestsEnabled();
const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'crm-app';
const AGENT = 'spiffe://example.org/agents/analyst';
const ROW = 'CUSTOMER-ROW';

let server: RedisServer;
const clients: TestClient[] = [];
const capture = createSpanCapture();

beforeAll(async () => {
  if (!enabled) return;
  server = await startRedisServer();
  clients.push(await connectClient('ioredis', server.port), await connectClient('node-redis', server.port));
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await server?.stop();
});

function guardOn(authority: Authority, store: RedisStore, clock: ReturnType<typeof manualClock>): { guard: Guard; search: (a: { records: number }) => Promise<string[]> } {
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => authority.jwks() }, clock, store, telemetry: { tracer: capture.tracer } });
  const search = guardTool(guard, { name: 'crm.search', description: 's', input: z.object({ records: z.number().int() }), risk: 'read' }, (a, ctx) => {
    ctx.retrieved({ source: 'crm.customers', records: a.records, bytes: a.records * 100 });
    return Array.from({ length: a.records }, (_, i) => `${ROW}-${i}`);
  });
  return { guard, search };
}

describe.runIf(enabled)('per-intent retrieval bounds on Redis, across two guards', () => {
  test('the second guard sees what the first counted; over the bound it gets the denial, not the data', async () => {
    const clock = manualClock();
    const authority = await createAuthority({ issuer: ISSUER, clock });
    const prefix = 'retrieval-a:';
    const a = guardOn(authority, createRedisStore({ client: clients[0]!.client, prefix }), clock);
    const b = guardOn(authority, createRedisStore({ client: clients[1]!.client, prefix }), clock);
    const grant = () =>
      authority.grant({
        agent: AGENT,
        audience: AUDIENCE,
        intent: { id: 'report-q3', purpose: 'Quarterly report' },
        tools: { 'crm.search': { retrieval: { maxRecords: 80, perIntent: { maxRecords: 100, maxBytes: 1_000_000 } } } },
        ttl: '5m',
      });
    const [tokenA, tokenB] = [await grant(), await grant()];
    await expect(a.guard.withCapability(tokenA, () => a.search({ records: 70 }))).resolves.toHaveLength(70);
    capture.reset();
    const denied = await b.guard.withCapability(tokenB, () => b.search({ records: 40 })).catch((e: unknown) => e);
    expect(isToolDeniedError(denied) && denied.code).toBe('retrieval_limit_exceeded');
    expect(String((denied as Error).message)).toContain('may read at most 100 records under intent "report-q3" and 70 were already read');
    expect(JSON.stringify(denied)).not.toContain(ROW);
    const [span] = await capture.spans();
    expect(span!.attributes).toMatchObject({ 'tessera.decision': 'deny', 'tessera.denial.code': 'retrieval_limit_exceeded' });
    expect(span!.events.map((e) => e.attributes?.['tessera.retrieval.records'])).toEqual([40]);
    // Within the bound still passes, from either guard; the sums are in Redis.
    await expect(b.guard.withCapability(tokenB, () => b.search({ records: 30 }))).resolves.toHaveLength(30);
    expect(await clients[0]!.command('GET', `${prefix}${retrievalKey('report-q3', 'crm.search', 'records')}`)).toBe('100');
    expect(Number(await clients[0]!.command('PTTL', `${prefix}${retrievalKey('report-q3', 'crm.search', 'records')}`))).toBeGreaterThan(0);
  });

  test('concurrent calls on both guards: exactly as many pass as the bound allows', async () => {
    const clock = manualClock();
    const authority = await createAuthority({ issuer: ISSUER, clock });
    const prefix = 'retrieval-b:';
    const guards = [
      guardOn(authority, createRedisStore({ client: clients[0]!.client, prefix }), clock),
      guardOn(authority, createRedisStore({ client: clients[1]!.client, prefix }), clock),
    ];
    const token = await authority.grant({
      agent: AGENT,
      audience: AUDIENCE,
      intent: { id: 'export-1', purpose: 'Export' },
      tools: { 'crm.search': { retrieval: { perIntent: { maxRecords: 100 } } } },
      ttl: '5m',
    });
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const g = guards[i % 2]!;
        return g.guard.withCapability(token, () => g.search({ records: 10 })).then(
          () => 'allowed',
          (e: unknown) => (isToolDeniedError(e) ? e.code : 'error'),
        );
      }),
    );
    expect(outcomes.filter((o) => o === 'allowed')).toHaveLength(10);
    expect(outcomes.filter((o) => o === 'retrieval_limit_exceeded')).toHaveLength(30);
  });

  test('an entry of another type under the counter key fails closed', async () => {
    const prefix = 'retrieval-c:';
    const store = createRedisStore({ client: clients[0]!.client, prefix });
    const key = retrievalKey('i', 't', 'records');
    await clients[0]!.command('LPUSH', `${prefix}${key}`, 'x');
    await expect(store.addWithin([{ key, amount: 1, limit: 10, ttlMs: 60_000 }])).rejects.toThrow(/unexpected entry: a key of another type under the counter key/);
    await expect(store.addWithin([{ key: 'k', amount: -1, limit: 10, ttlMs: 60_000 }])).rejects.toThrow(RangeError);
  });
});

describe('addWithin on the memory store', () => {
  test('all or nothing: one counter over its limit adds to none', () => {
    const store = createMemoryStore();
    const both = (records: number, bytes: number) => [
      { key: 'r', amount: records, limit: 10, ttlMs: 60_000 },
      { key: 'b', amount: bytes, limit: 100, ttlMs: 60_000 },
    ];
    expect(store.addWithin(both(5, 50))).toEqual({ ok: true });
    expect(store.addWithin(both(1, 60))).toEqual({ ok: false, key: 'b', limit: 100, total: 50 });
    expect(store.addWithin(both(5, 50))).toEqual({ ok: true });
    expect(store.addWithin(both(1, 0))).toEqual({ ok: false, key: 'r', limit: 10, total: 10 });
    expect(() => store.addWithin([{ key: 'r', amount: 1.5, limit: 10, ttlMs: 1000 }])).toThrow(RangeError);
  });

  test('the sums expire with their ttl', () => {
    const clock = manualClock();
    const store = createMemoryStore({ clock });
    expect(store.addWithin([{ key: 'r', amount: 10, limit: 10, ttlMs: 5_000 }])).toEqual({ ok: true });
    expect(store.addWithin([{ key: 'r', amount: 1, limit: 10, ttlMs: 5_000 }]).ok).toBe(false);
    clock.advance(7_000);
    expect(store.addWithin([{ key: 'r', amount: 1, limit: 10, ttlMs: 5_000 }])).toEqual({ ok: true });
  });
});
