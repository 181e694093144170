/**
 * The Redis store on a real Redis Cluster of three primaries, through an ioredis `Cluster` and a
 * node-redis `createCluster` client: the store contract, one call's keys in one slot, calls of
 * many roots spread over every primary, and agent and intent revocations reaching every shard
 * from the next call on.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyCallCredential } from '../../src/index.js';
import { redisLayout, SHARDS, shardSlots, shardTags } from '../../src/store/redis-layout.js';
import { shardOf, shardOfName } from '../../src/store/shards.js';
import { createRedisStore, type RedisStore } from '../../src/store/redis.js';
import { describeStoreContract } from '../../src/testing/store-contract.js';
import { AGENT, setup } from '../support/fixtures.js';
import { redisClusterTestsEnabled, startRedisCluster, type RedisCluster } from '../support/redis-server.js';
import { CLIENT_KINDS, connectClusterClient, copies, home, type TestClient } from './redis-clients.js';

const enabled = redisClusterTestsEnabled();

describe.skipIf(!enabled)('Redis store on a 3-primary Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, durable: false });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const slotOf = (key: string): number => Number(cluster.cli(cluster.primaries[0]!.port, 'CLUSTER', 'KEYSLOT', key));
  const keysOn = (port: number, pattern: string): string[] => cluster.cli(port, '--scan', '--pattern', pattern).split('\n').filter((k) => k !== '');

  test(`each of the ${SHARDS} shard tags hashes into its own 1/${SHARDS} of the slot space`, () => {
    const width = 16384 / SHARDS;
    const slots = shardTags().map((tag) => slotOf(`{${tag}}anything`));
    expect(slots.map((slot) => Math.floor(slot / width))).toEqual(Array.from({ length: SHARDS }, (_, i) => i));
    // redis-cli --cluster create gives three primaries even slot ranges: 21, 22 and 21 tags each.
    const perPrimary = cluster.primaries.map((p) => slots.filter((slot) => cluster.primaryFor(slot) === p.port).length);
    expect(perPrimary).toEqual([21, 22, 21]);
    // The store's own table of each tag's slot, by which it groups a turn's scripts per node.
    expect(shardSlots()).toEqual(slots);
    expect(redisLayout('p:').slot(redisLayout('p:').key(7, 'cap:x'))).toBe(slots[7]);
    expect(redisLayout('p:').slot('q:{10}cap:x')).toBeUndefined();
  });

  for (const kind of CLIENT_KINDS) {
    describe(`through a ${kind} cluster client`, () => {
      let c: TestClient | undefined;
      let n = 0;
      beforeAll(async () => {
        c = await connectClusterClient(kind, cluster.seeds);
      });
      afterAll(async () => {
        await c?.close();
      });
      const fresh = (): { store: RedisStore; prefix: string } => {
        const prefix = `cl:${kind}:${++n}:`;
        return { store: createRedisStore({ client: c!.client, prefix, timeoutMs: 2000 }), prefix };
      };

      describeStoreContract(
        'contract',
        () => ({ store: createRedisStore({ client: c!.client, prefix: `contract:${kind}:` }), elapse: (ms) => new Promise((r) => setTimeout(r, ms)) }),
        { shortTtlMs: 100 },
      );

      test('a guarded call keeps every key it writes in one slot, and a downstream finds the credential from the credential alone', async () => {
        const { store, prefix } = fresh();
        const { guard, sendEmail, grant, clock } = await setup({ store });
        let verified: unknown;
        const cap = await grant();
        const sent = await sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }, { capability: cap });
        const capId = (await guard.inspect(cap)).id;
        const credentialId = decodeJwt(sent.token).jti!;
        // A credential id's first two characters are in its call's root's shard: found from the credential alone.
        expect(credentialId).toMatch(/^[\w-]{22}$/);
        expect(shardOfName(credentialId.slice(0, 2))).toBe(shardOfName(capId.split('.')[0]!));
        // The call has ended: its credential reads as revoked, found from the token alone.
        verified = await verifyCallCredential(sent.token, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'email.send', store, clock }).catch(
          (e: unknown) => e,
        );
        expect(verified).toMatchObject({ code: 'replay_detected', reason: 'this call credential was revoked when its call ended' });
        const written = [home(prefix, `calls:${capId}:email.send`), home(prefix, `cred:${credentialId}`)];
        expect(new Set(written.map(slotOf)).size).toBe(1);
        const port = cluster.primaryFor(slotOf(written[0]!));
        expect(keysOn(port, `${prefix}*`).sort()).toEqual(written.sort());
        for (const other of cluster.primaries.filter((p) => p.port !== port)) expect(keysOn(other.port, `${prefix}*`)).toEqual([]);
        await expect(sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }, { capability: cap })).rejects.toMatchObject({ code: 'call_limit_exceeded' });
      });

      test("a delegated capability's calls count against its parent's budget in the same slot", async () => {
        const { store, prefix } = fresh();
        const { authority, guard, sendEmail, ran } = await setup({ store });
        const parent = await authority.grant({
          agent: AGENT,
          audience: 'support-app',
          intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
          tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } },
        });
        const child = await authority.delegate(parent, { to: 'spiffe://example.org/agents/mailer', tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } } });
        const childCap = await guard.inspect(child);
        const parentId = (await guard.inspect(parent)).id;
        expect(slotOf(home(prefix, `calls:${childCap.id}:email.send`))).toBe(slotOf(home(prefix, `calls:${parentId}:email.send`)));
        const outcomes: string[] = [];
        for (const capability of [parent, child, child]) {
          outcomes.push(
            await sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }, { capability }).then(
              () => 'ok',
              (e: { code: string }) => e.code,
            ),
          );
        }
        // The child's own budget (2) has room for its second call; its parent's (2) does not.
        expect(outcomes).toEqual(['ok', 'ok', 'call_limit_exceeded']);
        expect(ran).toHaveLength(2);
      });

      // Only ioredis pipelines per node here: node-redis sends one turn's commands together itself.
      if (kind === 'ioredis') test(
        "one turn's scripts leave in one pipeline per node; a script the node forgot is sent whole, and a failing script fails only its own call",
        async () => {
          const { store, prefix } = fresh();
          const io = c!.client as unknown as { pipeline: () => unknown };
          const pipeline = io.pipeline;
          let pipelines = 0;
          io.pipeline = function (this: unknown) {
            pipelines++;
            return pipeline.call(this);
          };
          try {
            // One marker per shard: 64 scripts, 21-22 per primary.
            const byShard = new Map<number, string>();
            for (let i = 0; byShard.size < SHARDS; i++) if (!byShard.has(shardOf(`cap:m${i}:once`))) byShard.set(shardOf(`cap:m${i}:once`), `cap:m${i}:once`);
            const keys = [...byShard.values()];
            const reserveAll = (): Promise<unknown[]> =>
              Promise.all(keys.map((key) => store.reserve({ revocations: [], once: [{ key, ttlMs: 60_000 }], counters: [], credentials: [] }).then((r) => (r.ok ? 'ok' : r.reason), (e: { code?: string }) => e.code)));
            for (const p of cluster.primaries) cluster.cli(p.port, 'SCRIPT', 'FLUSH');
            expect(await reserveAll()).toEqual(keys.map(() => 'ok'));
            expect(pipelines).toBe(cluster.primaries.length);
            expect(await reserveAll()).toEqual(keys.map(() => 'replay'));
            // A key of another type under one shard's marker: that call alone is refused.
            cluster.cli(cluster.primaryFor(slotOf(home(prefix, keys[5]!))), 'DEL', home(prefix, keys[5]!));
            cluster.cli(cluster.primaryFor(slotOf(home(prefix, keys[5]!))), 'LPUSH', home(prefix, keys[5]!), 'x');
            const third = await reserveAll();
            expect(third[5]).toBe('store_unavailable');
            expect(third.filter((o) => o === 'replay')).toHaveLength(SHARDS - 1);
          } finally {
            io.pipeline = pipeline;
          }
        },
      );

      test('calls under many grants spread over every primary', async () => {
        const { store, prefix } = fresh();
        const { readTicket, grant } = await setup({ store });
        for (let i = 0; i < 48; i++) await readTicket({ ticketId: '4711' }, { capability: await grant({ tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } }, maxCalls: 9 } } }) });
        const perPrimary = cluster.primaries.map((p) => keysOn(p.port, `${prefix}*calls:*`).length);
        expect(perPrimary.reduce((a, b) => a + b, 0)).toBe(48);
        for (const count of perPrimary) expect(count).toBeGreaterThan(0);
      });

      test("an emergency stop reaches every shard: the next call under each of the agent's grants is denied, on every primary", async () => {
        const { store, prefix } = fresh();
        const { guard, readTicket, grant, ran, clock } = await setup({ store });
        // Grants until they cover every primary (each grant's root picks its shard).
        const caps: string[] = [];
        const covered = new Set<number>();
        while (covered.size < cluster.primaries.length || caps.length < 6) {
          const cap = await grant();
          caps.push(cap);
          covered.add(cluster.primaryFor(slotOf(home(prefix, `cap:${(await guard.inspect(cap)).id}`))));
        }
        for (const cap of caps) await readTicket({ ticketId: '4711' }, { capability: cap });
        expect(ran).toHaveLength(caps.length);
        await guard.revokeAgent(AGENT);
        // Every shard holds the stop, each copy with an expiry.
        const stops = copies(prefix, `agent:${AGENT}`);
        expect(stops).toHaveLength(SHARDS);
        for (const key of stops) expect(Number(await c!.command('PTTL', key))).toBeGreaterThan(0);
        const after = await Promise.all(caps.map((cap) => readTicket({ ticketId: '4711' }, { capability: cap }).then(() => 'ok', (e: { code: string }) => e.code)));
        expect(after).toEqual(caps.map(() => 'capability_revoked'));
        expect(ran).toHaveLength(caps.length);
        // A grant made after the stop (which covers the guard's clock skew ahead) works, in whichever shard it lands.
        clock.advance(120_000);
        await readTicket({ ticketId: '4711' }, { capability: await grant() });
        expect(ran).toHaveLength(caps.length + 1);
      });

      test('an intent revocation reaches every shard the same way', async () => {
        const { store } = fresh();
        const { guard, readTicket, grant, ran } = await setup({ store });
        const caps = await Promise.all(Array.from({ length: 12 }, () => grant()));
        await guard.revokeIntent('ticket-4711');
        const after = await Promise.all(caps.map((cap) => readTicket({ ticketId: '4711' }, { capability: cap }).then(() => 'ok', (e: { code: string }) => e.code)));
        expect(after).toEqual(caps.map(() => 'capability_revoked'));
        expect(ran).toEqual([]);
      });
    });
  }

  test('an ioredis pipeline whose slot has moved to another node: the moved scripts follow it alone, the rest answer as sent', async () => {
    const c = await connectClusterClient('ioredis', cluster.seeds);
    const slot = shardSlots()[0]!;
    const [from, to] = [cluster.primaries[0]!.port, cluster.primaries[1]!.port];
    const ids = cluster.primaries.map((p) => cluster.cli(p.port, 'CLUSTER', 'MYID'));
    const empty = (port: number): void => {
      for (const key of cluster.cli(port, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '10000').split('\n').filter((k) => k !== '')) cluster.cli(port, 'DEL', key);
    };
    // SETSLOT NODE on the new owner first, then on the others, as a resharding tool does.
    const assign = (owner: number): void => {
      for (const port of [owner, ...cluster.primaries.map((p) => p.port).filter((p) => p !== owner)]) cluster.cli(port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', ids[cluster.primaries.findIndex((p) => p.port === owner)]!);
    };
    try {
      const store = createRedisStore({ client: c.client, prefix: 'moved:', timeoutMs: 2000 });
      const byShard = new Map<number, string>();
      for (let i = 0; byShard.size < SHARDS; i++) if (!byShard.has(shardOf(`cap:v${i}:once`))) byShard.set(shardOf(`cap:v${i}:once`), `cap:v${i}:once`);
      const keys = [...byShard.entries()].sort((a, b) => a[0] - b[0]).map(([, key]) => key);
      expect(cluster.primaryFor(slot)).toBe(from);
      empty(from);
      assign(to);
      // The client still sends shard 0's script in the pipeline bound for its old node.
      const outcomes = await Promise.all(
        keys.map((key) => store.reserve({ revocations: [], once: [{ key, ttlMs: 60_000 }], counters: [], credentials: [] }).then((r) => (r.ok ? 'ok' : r.reason), (e: { code?: string }) => e.code)),
      );
      expect(outcomes).toEqual(keys.map(() => 'ok'));
      expect(cluster.cli(to, 'EXISTS', home('moved:', keys[0]!))).toBe('1');
    } finally {
      empty(to);
      assign(from);
      await c.close();
    }
  });
});
