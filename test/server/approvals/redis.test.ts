import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decide } from '../../../src/server/approvals/decide.js';
import { createRedisApprovalsStore } from '../../../src/server/approvals/redis-store.js';
import type { ApprovalsStore } from '../../../src/server/approvals/store.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../../support/redis-server.js';
import type { TestTrustDomain } from '../../identity/trust-domain.js';
import { AGENT, ALICE, get, post, record, startService, submission, trustDomain, type Running } from './support.js';

describe.runIf(redisTestsEnabled())('approvals on Redis, several service processes', () => {
  let redis: RedisServer;
  const clients: Redis[] = [];
  let stores: ApprovalsStore[];
  let td: TestTrustDomain;
  let a: Running;
  let b: Running;

  beforeAll(async () => {
    redis = await startRedisServer();
    stores = [0, 1].map(() => {
      const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      clients.push(client);
      return createRedisApprovalsStore({ client, prefix: '{appr}:', pollMs: 50 });
    });
    await Promise.all(clients.map((c) => new Promise((r) => (c.status === 'ready' ? r(undefined) : c.once('ready', r)))));
    td = await trustDomain();
    a = await startService(td, stores[0]!);
    b = await startService(td, stores[1]!);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    clients.forEach((c) => c.disconnect());
    await redis?.stop();
  });

  test('a request submitted to one instance is listed, decided and read through another', async () => {
    const token = await td.svid(AGENT);
    const created = (await (await post(`${a.base}/requests`, token, submission())).json()) as { id: string };
    expect((await stores[1]!.listPending(Date.now())).map((r) => r.id)).toContain(created.id);
    const polling = get(`${a.base}/requests/${created.id}/decision?wait=10000`, token);
    setTimeout(() => {
      void (async () => post(`${b.base}/requests/${created.id}/decision`, await td.svid(ALICE), { decision: 'deny', reason: 'wrong order' }))();
    }, 150);
    expect(await (await polling).json()).toEqual({ status: 'denied', approver: ALICE, reason: 'wrong order', binding: expect.any(Object) });
    expect((await stores[0]!.listPending(Date.now())).map((r) => r.id)).not.toContain(created.id);
  });

  test('the first decision wins across instances: 20 concurrent decisions, exactly one recorded', async () => {
    const r = record();
    await stores[0]!.put(r);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        decide(stores[i % 2]!, { id: r.id, approverIdentity: `${ALICE}-${i}`, approverRoles: ['payments-approvers'], outcome: i % 3 === 0 ? 'denied' : 'approved', now: r.createdAt }),
      ),
    );
    const winners = results.filter((x) => x.ok);
    expect(winners).toHaveLength(1);
    const stored = await stores[1]!.get(r.id);
    expect(stored?.decision).toEqual(winners[0]!.ok ? winners[0]!.decision : undefined);
  });

  test('keys expire after the deadline plus the retention margin', async () => {
    const r = record({ deadline: Date.now() + 1_000 });
    await stores[0]!.put(r);
    const ttl = await clients[0]!.pttl(`{appr}:req:${r.id}`);
    expect(ttl).toBeGreaterThan(600_000);
    expect(ttl).toBeLessThanOrEqual(601_000);
  });

  test('a decision past the deadline is refused by the Redis script itself', async () => {
    const r = record();
    await stores[0]!.put(r);
    expect(await stores[1]!.decide(r.id, { outcome: 'approved', approver: ALICE, decidedAt: r.deadline + 1 })).toEqual({ ok: false, why: 'expired' });
  });

  test('a stopped Redis fails the submission with 503 and nothing is accepted', async () => {
    const token = await td.svid(AGENT);
    await redis.kill();
    try {
      const res = await post(`${a.base}/requests`, token, submission());
      expect(res.status).toBe(503);
    } finally {
      await redis.restart();
    }
  });
});
