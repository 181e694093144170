/**
 * One worker process of the `cluster` suite: its own authority, guards and Redis connections
 * (one to the single server, one cluster client), the OpenTelemetry SDK registered as in the
 * parent. Grants `roots` capabilities (each a root of its own, so its own shard) and, on each
 * `run`, makes `calls` guarded calls with `concurrency` in flight, spread over them.
 */
import { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { createRedisStore } from '../../src/store/redis.js';
import { installTelemetry } from '../harness.js';

export type ClusterWorkerRequest =
  | { type: 'init'; port: number; seeds: Array<{ host: string; port: number }>; roots: number }
  | { type: 'run'; topology: 'single' | 'cluster'; calls: number; concurrency: number }
  | { type: 'telemetry' };
export type ClusterWorkerReply =
  | { type: 'ready' }
  | { type: 'done'; denied: Record<string, number> }
  | { type: 'telemetry'; spansExported: number; spansEnded: number }
  | { type: 'error'; message: string };

const send = (m: ClusterWorkerReply): void => {
  process.send?.(m);
};
const telemetry = installTelemetry();
let runs: Record<'single' | 'cluster', (calls: number, concurrency: number) => Promise<Record<string, number>>> | undefined;
const clients: Array<{ disconnect(): void }> = [];

async function init(msg: Extract<ClusterWorkerRequest, { type: 'init' }>): Promise<void> {
  const single = new Redis({ host: '127.0.0.1', port: msg.port, enableOfflineQueue: false, lazyConnect: true });
  single.on('error', () => {});
  await single.connect();
  const cluster = new Cluster(msg.seeds, { enableOfflineQueue: false, lazyConnect: true });
  cluster.on('error', () => {});
  await cluster.connect();
  clients.push(single, cluster);
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const capabilities = await Promise.all(
    Array.from({ length: msg.roots }, () =>
      authority.grant({
        agent: 'spiffe://example.org/agents/bench',
        audience: 'bench-app',
        intent: { id: 'bench', purpose: 'Benchmark' },
        // A limit that never bites: every call does the full store work.
        tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } }, maxCalls: 1_000_000 } },
        ttl: '1h',
      }),
    ),
  );
  const prefix = `bench:${process.pid}:`;
  // A deadline far past any wait on this loaded machine: a call denied for a timeout is cheaper
  // than one that runs, and would flatter whichever topology timed out more.
  const caller = (client: Redis | Cluster) => {
    const guard = createGuard({ audience: 'bench-app', trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() }, store: createRedisStore({ client, prefix, timeoutMs: 5000 }) });
    const read = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' }, async (args) => args.ticketId);
    const args = { ticketId: '4711' };
    return async (calls: number, concurrency: number): Promise<Record<string, number>> => {
      let started = 0;
      const denied: Record<string, number> = Object.create(null);
      const lane = async (): Promise<void> => {
        while (started < calls) {
          const capability = capabilities[started++ % capabilities.length]!;
          await read(args, { capability }).catch((err: { code?: string; reason?: string }) => {
            const what = `${err.code ?? 'error'}: ${err.reason ?? ''}`;
            denied[what] = (denied[what] ?? 0) + 1;
          });
        }
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
      return denied;
    };
  };
  runs = { single: caller(single), cluster: caller(cluster) };
  // Warm up both: capabilities verified and cached, scripts loaded on every node.
  await runs.single(msg.roots * 2, 16);
  await runs.cluster(msg.roots * 2, 16);
}

process.on('message', (msg: ClusterWorkerRequest) => {
  void (async () => {
    try {
      if (msg.type === 'init') {
        await init(msg);
        send({ type: 'ready' });
      } else if (msg.type === 'telemetry') {
        const counts = await telemetry.flush();
        send({ type: 'telemetry', spansExported: counts.spansExported, spansEnded: counts.spansEnded });
      } else {
        send({ type: 'done', denied: await runs![msg.topology](msg.calls, msg.concurrency) });
      }
    } catch (err) {
      send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});

process.on('disconnect', () => {
  for (const c of clients) c.disconnect();
  void telemetry.shutdown().finally(() => process.exit(0));
});
