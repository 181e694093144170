/**
 * Several worker processes, each with its own guard and Redis connection (half ioredis, half
 * node-redis), race on the same capability and credential, against one Redis server and against
 * a 3-primary Redis Cluster. The Redis store must make single use, call limits and revocation
 * hold across all of them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, type Authority, guardTool } from '../../src/index.js';
import { createRedisStore } from '../../src/store/redis.js';
import { redisClusterTestsEnabled, redisTestsEnabled, startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from '../support/redis-server.js';
import { CLIENT_KINDS, connectClient, connectClusterClient, home, type TestClient } from './redis-clients.js';
import type { WorkerReply, WorkerRequest } from './workers/guard-worker.js';

const enabled = redisTestsEnabled();
const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'support-app';
const AGENT = 'spiffe://example.org/agents/support';
const WORKERS = 4;
const workerPath = fileURLToPath(new URL('./workers/guard-worker.ts', import.meta.url));

type Request = WorkerRequest extends infer R ? (R extends { seq: number } ? Omit<R, 'seq'> : never) : never;

interface Worker {
  proc: ChildProcess;
  ask(request: Request): Promise<{ outcomes: string[]; ran: number }>;
}

function startWorker(): Promise<Worker> {
  const proc = fork(workerPath, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, { resolve: (r: { outcomes: string[]; ran: number }) => void; reject: (e: Error) => void }>();
  let seq = 0;
  proc.on('message', (reply: WorkerReply) => {
    if ('type' in reply) return;
    const w = waiting.get(reply.seq);
    waiting.delete(reply.seq);
    if ('error' in reply) w?.reject(new Error(`worker failed: ${reply.error}`));
    else w?.resolve(reply);
  });
  const worker: Worker = {
    proc,
    ask(request) {
      const s = ++seq;
      return new Promise((resolve, reject) => {
        waiting.set(s, { resolve, reject });
        proc.send({ ...request, seq: s } as WorkerRequest);
      });
    },
  };
  return new Promise((resolve, reject) => {
    proc.once('spawn', () => resolve(worker));
    proc.once('error', reject);
  });
}

const count = (outcomes: string[]): Record<string, number> => {
  const c: Record<string, number> = Object.create(null);
  for (const o of outcomes) c[o] = (c[o] ?? 0) + 1;
  return { ...c };
};

const TOPOLOGIES = enabled && redisClusterTestsEnabled() ? ['one Redis server', 'a 3-primary Redis Cluster'] : ['one Redis server'];

describe.skipIf(!enabled).each(TOPOLOGIES)('guards in several processes sharing %s', (topology) => {
  const onCluster = topology !== 'one Redis server';
  let server: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  let workers: Worker[] = [];
  let authority: Authority;
  let local: TestClient;
  let n = 0;
  const prefix = (): string => `procs:${++n}:`;

  beforeAll(async () => {
    if (onCluster) cluster = await startRedisCluster({ primaries: 3, durable: false });
    else server = await startRedisServer();
    authority = await createAuthority({ issuer: ISSUER });
    local = cluster === undefined ? await connectClient('ioredis', server!.port) : await connectClusterClient('ioredis', cluster.seeds);
    workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker()));
    await Promise.all(
      workers.map((w, i) => {
        const ready = new Promise<void>((resolve, reject) => {
          w.proc.once('message', () => resolve());
          w.proc.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
        });
        w.proc.send({ type: 'init', port: server?.port ?? 0, ...(cluster === undefined ? {} : { seeds: [...cluster.seeds] }), kind: CLIENT_KINDS[i % CLIENT_KINDS.length]!, issuer: ISSUER, audience: AUDIENCE, jwks: authority.jwks() } satisfies WorkerRequest);
        return ready;
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.proc.exitCode !== null) return resolve();
            w.proc.once('exit', () => resolve());
            w.proc.disconnect();
          }),
      ),
    );
    await local?.close();
    await server?.stop();
    await cluster?.stop();
  });

  const grant = (maxCalls?: number, agent = AGENT) =>
    authority.grant({
      agent,
      audience: AUDIENCE,
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } }, ...(maxCalls === undefined ? {} : { maxCalls }) } },
      ttl: '5m',
    });
  const soon = (): number => Date.now() + 150;

  test('a maxCalls: 5 grant used by every process allows exactly 5 calls in total', async () => {
    const p = prefix();
    const capability = await grant(5);
    const at = soon();
    const replies = await Promise.all(workers.map((w) => w.ask({ type: 'call', prefix: p, capability, count: 6, at })));
    expect(count(replies.flatMap((r) => r.outcomes))).toEqual({ ok: 5, call_limit_exceeded: WORKERS * 6 - 5 });
    expect(replies.reduce((sum, r) => sum + r.ran, 0)).toBe(5);
  });

  test('one single-use credential presented by every process is accepted exactly once', async () => {
    const p = prefix();
    const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, store: createRedisStore({ client: local.client, prefix: p }) });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let token!: string;
    const gotToken = new Promise<void>((resolve) => {
      // The call stays open while the workers race, so the credential is still live.
      const hold = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' }, async (_args, ctx) => {
        token = ctx.credential.token;
        resolve();
        await held;
      });
      void grant().then((capability) => hold({ ticketId: '4711' }, { capability }));
    });
    await gotToken;
    const at = soon();
    const replies = await Promise.all(
      workers.map((w) => w.ask({ type: 'consume', prefix: p, token, count: 3, jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'tickets.read', at })),
    );
    release();
    expect(count(replies.flatMap((r) => r.outcomes))).toEqual({ ok: 1, replay_detected: WORKERS * 3 - 1 });
  });

  test('a capability revoked in one process is refused on the next call in every other', async () => {
    const p = prefix();
    const capability = await grant();
    const first = await Promise.all(workers.map((w) => w.ask({ type: 'call', prefix: p, capability, count: 1, at: 0 })));
    expect(first.flatMap((r) => r.outcomes)).toEqual(Array(WORKERS).fill('ok'));
    const { id } = await createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() } }).inspect(capability);
    await workers[0]!.ask({ type: 'revoke', prefix: p, what: 'capability', id });
    const after = await Promise.all(workers.map((w) => w.ask({ type: 'call', prefix: p, capability, count: 1, at: 0 })));
    expect(after.flatMap((r) => r.outcomes)).toEqual(Array(WORKERS).fill('capability_revoked'));
    expect(after.map((r) => r.ran)).toEqual(Array(WORKERS).fill(1));
  });

  test('an emergency stop for an agent in one process stops its calls in every other', async () => {
    const p = prefix();
    const rogue = 'spiffe://example.org/agents/rogue';
    const inspector = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() } });
    // On the cluster, the rogue's grants cover every primary (each grant's root picks its shard).
    const capabilities: string[] = [];
    const covered = new Set<number>();
    while (capabilities.length < 3 || (cluster !== undefined && covered.size < cluster.primaries.length)) {
      const capability = await grant(undefined, rogue);
      capabilities.push(capability);
      if (cluster !== undefined) {
        const key = home(p, `cap:${(await inspector.inspect(capability)).id}`);
        covered.add(cluster.primaryFor(Number(cluster.cli(cluster.primaries[0]!.port, 'CLUSTER', 'KEYSLOT', key))));
      }
    }
    const bystander = await grant();
    const each = (capability: string) => Promise.all(workers.map((w) => w.ask({ type: 'call', prefix: p, capability, count: 1, at: 0 })));
    for (const capability of capabilities) expect((await each(capability)).flatMap((r) => r.outcomes)).toEqual(Array(WORKERS).fill('ok'));
    await workers[1]!.ask({ type: 'revoke', prefix: p, what: 'agent', id: rogue });
    for (const capability of capabilities) expect((await each(capability)).flatMap((r) => r.outcomes)).toEqual(Array(WORKERS).fill('capability_revoked'));
    expect((await each(bystander)).flatMap((r) => r.outcomes)).toEqual(Array(WORKERS).fill('ok'));
  });
});
