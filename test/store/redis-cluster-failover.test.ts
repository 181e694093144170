/**
 * A primary of a real Redis Cluster (3 primaries, one replica each) is killed while calls run.
 * Calls on its shards are denied `store_unavailable` while no node answers for them, no tool
 * body runs for a denied call, calls on other primaries go on, and once the replica is promoted
 * the same guard, store and client succeed again without a restart, with every budget, spent
 * credential and emergency stop that reached the replica before the crash still in force.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRedisStore } from '../../src/store/redis.js';
import { AGENT, setup } from '../support/fixtures.js';
import { redisClusterTestsEnabled, startRedisCluster, type RedisCluster } from '../support/redis-server.js';
import { CLIENT_KINDS, connectClusterClient, home, type TestClient } from './redis-clients.js';

const enabled = redisClusterTestsEnabled();
const ROGUE = 'spiffe://example.org/agents/rogue';

describe.skipIf(!enabled).each(CLIENT_KINDS)('a Redis Cluster primary killed mid-run, through a %s cluster client', (kind) => {
  let cluster: RedisCluster;
  let c: TestClient;
  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicas: 1, nodeTimeoutMs: 1000, durable: false });
    c = await connectClusterClient(kind, cluster.seeds);
  }, 60_000);
  afterAll(async () => {
    await c?.close();
    await cluster?.stop();
  });

  test('denies while the shard has no primary, goes on elsewhere, and recovers after promotion with nothing lost', async () => {
    const prefix = `failover:${kind}:`;
    const store = createRedisStore({ client: c.client, prefix, timeoutMs: 300 });
    const { guard, readTicket, sendEmail, grant, ran, authority } = await setup({ store });
    const slotOf = (key: string): number => Number(cluster.cli(cluster.primaries[0]!.port, 'CLUSTER', 'KEYSLOT', key));
    const primaryOf = async (cap: string): Promise<number> => cluster.primaryFor(slotOf(home(prefix, `cap:${(await guard.inspect(cap)).id}`)));

    const victim = cluster.primaries[0]!;
    // One grant whose shard the victim serves, one served by another primary.
    let onVictim: string | undefined;
    let elsewhere: string | undefined;
    while (onVictim === undefined || elsewhere === undefined) {
      const cap = await grant();
      if ((await primaryOf(cap)) === victim.port) onVictim ??= cap;
      else elsewhere ??= cap;
    }
    let rogueCap: string | undefined;
    while (rogueCap === undefined) {
      const cap = await authority.grant({
        agent: ROGUE,
        audience: 'support-app',
        intent: { id: 'other', purpose: 'Another task' },
        tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } } },
        ttl: '5m',
      });
      if ((await primaryOf(cap)) === victim.port) rogueCap = cap;
    }

    // Recorded before the crash: email.send's only call (maxCalls: 1) and an emergency stop.
    await sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }, { capability: onVictim });
    await readTicket({ ticketId: '4711' }, { capability: rogueCap });
    await guard.revokeAgent(ROGUE);
    await cluster.waitReplicated(victim.port);
    expect(ran).toEqual(['email.send:a@example.com', 'tickets.read:4711']);
    ran.length = 0;

    await victim.kill();
    // An emergency stop cannot reach the dead primary's shards: it rejects, and is retried below.
    const LATE = 'spiffe://example.org/agents/late';
    await expect(guard.revokeAgent(LATE)).rejects.toMatchObject({ code: 'store_unavailable' });
    const outcome = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
    const seen: string[] = [];
    const elsewhereSeen: string[] = [];
    const victimSlot = slotOf(home(prefix, `cap:${(await guard.inspect(onVictim)).id}`));
    const promoted = (): boolean => {
      try {
        return cluster.primaryFor(victimSlot) !== victim.port;
      } catch {
        return false;
      }
    };
    // Calls every 50 ms until the shard answers again (or, for node-redis, until the replica
    // has been promoted and a call after that was still denied).
    const until = async (stop: (here: string) => boolean): Promise<void> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const [here, there] = await Promise.all([outcome(readTicket({ ticketId: '4711' }, { capability: onVictim })), outcome(readTicket({ ticketId: '4711' }, { capability: elsewhere }))]);
        seen.push(here);
        elsewhereSeen.push(there);
        if (here === 'ok' || stop(here) || Date.now() > deadline) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    let promotedAt: number | undefined;
    await until(() => {
      if (kind === 'ioredis') return false;
      if (promotedAt === undefined && promoted()) promotedAt = seen.length;
      return promotedAt !== undefined && seen.length > promotedAt + 3;
    });
    if (kind === 'node-redis') {
      // node-redis's cluster client learns of a promotion only from a MOVED reply: calls on the
      // shard stay denied until the old primary is back (as a replica, answering MOVED).
      expect(seen.at(-1)).toBe('store_unavailable');
      await victim.restart();
      await until(() => false);
    }
    // Denied (store_unavailable) while no node served the shard, then answered by the promoted replica.
    expect(seen.at(-1)).toBe('ok');
    expect(seen.slice(0, -1).length).toBeGreaterThan(0);
    expect(new Set(seen.slice(0, -1))).toEqual(new Set(['store_unavailable']));
    // Calls on the other primaries went on throughout.
    expect(new Set(elsewhereSeen)).toEqual(new Set(['ok']));
    // Only the calls that were allowed ran.
    const allowed = seen.filter((o) => o === 'ok').length + elsewhereSeen.length;
    expect(ran).toHaveLength(allowed);
    expect(promoted()).toBe(true);

    // What reached the replica before the crash holds on the promoted node.
    await expect(sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }, { capability: onVictim })).rejects.toMatchObject({ code: 'call_limit_exceeded' });
    await expect(readTicket({ ticketId: '4711' }, { capability: rogueCap })).rejects.toMatchObject({ code: 'capability_revoked' });
    // The bystander agent is untouched by the stop.
    expect(AGENT).not.toBe(ROGUE);
    // The stop that failed during the gap goes through once every shard has a primary again.
    await expect(guard.revokeAgent(LATE)).resolves.toBeUndefined();
    await expect(readTicket({ ticketId: '4711' }, { capability: onVictim })).resolves.toMatchObject({ id: '4711' });
  }, 60_000);
});
