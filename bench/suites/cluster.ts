/**
 * Guarded calls per second on a 3-primary Redis Cluster against one Redis server: several worker
 * processes, 64 calls in flight in each, every call under one of many grants (each its own root,
 * so its own shard). The two topologies are measured in the same rounds, in a fresh random order
 * each round; `cluster_vs_single` is the median over rounds of the per-round ratio. Beside it,
 * each primary's share of the script calls (INFO commandstats, before and after): the layout's
 * spread.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { hasRedisCli, hasRedisServer, startRedisCluster, startRedisServer } from '../../test/support/redis-server.js';
import { median, round, type BenchSuite } from '../harness.js';
import type { ClusterWorkerReply, ClusterWorkerRequest } from '../workers/cluster-worker.js';

const WORKERS = 3;
const CONCURRENCY = 64;
const CALLS = 4000;
const ROUNDS = 5;
const ROOTS = 64;

const workerPath = fileURLToPath(new URL('../workers/cluster-worker.ts', import.meta.url));

interface Worker {
  readonly proc: ChildProcess;
  ask(request: ClusterWorkerRequest): Promise<ClusterWorkerReply>;
}

function startWorker(): Worker {
  const proc = fork(workerPath, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    proc,
    ask: (request) =>
      new Promise((resolve, reject) => {
        const onExit = (code: number | null): void => reject(new Error(`cluster worker exited with ${code}`));
        proc.once('message', (reply: ClusterWorkerReply) => {
          proc.off('exit', onExit);
          if (reply.type === 'error') reject(new Error(`cluster worker: ${reply.message}`));
          else resolve(reply);
        });
        proc.once('exit', onExit);
        proc.send(request);
      }),
  };
}

/** Script calls and all commands, from one node's INFO commandstats. */
async function commandCounts(port: number): Promise<{ scripts: number; commands: number }> {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
  await c.connect();
  try {
    const info = String(await c.call('INFO', 'commandstats'));
    let scripts = 0;
    let commands = 0;
    for (const m of info.matchAll(/cmdstat_([a-z|_-]+):calls=(\d+)/g)) {
      const n = Number(m[2]);
      commands += n;
      if (m[1] === 'evalsha' || m[1] === 'eval') scripts += n;
    }
    return { scripts, commands };
  } finally {
    c.disconnect();
  }
}

const shuffle = <T>(xs: T[]): T[] => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
};

const suite: BenchSuite = async (h) => {
  if (!hasRedisServer() || !hasRedisCli()) throw new Error('redis-server and redis-cli are not installed (apt-get install -y redis-server)');
  const single = await startRedisServer({ durable: false });
  const cluster = await startRedisCluster({ primaries: 3, durable: false });
  const workers = Array.from({ length: WORKERS }, startWorker);
  try {
    await Promise.all(workers.map((w) => w.ask({ type: 'init', port: single.port, seeds: [...cluster.seeds], roots: ROOTS })));
    const flow: Record<'single' | 'cluster', number[]> = { single: [], cluster: [] };
    const before = await Promise.all(cluster.primaries.map((p) => commandCounts(p.port)));
    const denied: Record<string, number> = Object.create(null);
    for (let r = 0; r < ROUNDS; r++) {
      for (const topology of shuffle(['single', 'cluster'] as const)) {
        const t0 = performance.now();
        const replies = await Promise.all(workers.map((w) => w.ask({ type: 'run', topology, calls: CALLS, concurrency: CONCURRENCY })));
        flow[topology].push((WORKERS * CALLS) / ((performance.now() - t0) / 1000));
        for (const reply of replies) {
          if (reply.type !== 'done') continue;
          for (const [what, n] of Object.entries(reply.denied)) denied[`${topology}: ${what}`] = (denied[`${topology}: ${what}`] ?? 0) + n;
        }
      }
    }
    const after = await Promise.all(cluster.primaries.map((p) => commandCounts(p.port)));
    const scripts = after.map((a, i) => a.scripts - before[i]!.scripts);
    const commands = after.map((a, i) => a.commands - before[i]!.commands);
    const totalScripts = scripts.reduce((a, b) => a + b, 0);
    const shares = scripts.map((s) => s / Math.max(1, totalScripts));
    const clusterCalls = ROUNDS * WORKERS * CALLS;
    const ratio = median(flow.cluster.map((c, k) => c / flow.single[k]!));
    const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
    h.note(`cluster: guarded calls/s, one Redis server (${WORKERS} processes x ${CONCURRENCY} in flight)`, Math.round(median(flow.single)).toLocaleString('en-US'));
    h.note(`cluster: guarded calls/s, 3-primary cluster (${WORKERS} processes x ${CONCURRENCY} in flight)`, Math.round(median(flow.cluster)).toLocaleString('en-US'));
    h.note('cluster: cluster / single calls/s', `${ratio.toFixed(2)} (target >= 1.0 on this machine)`);
    h.note(
      'cluster: script calls per primary (share)',
      scripts.map((s, i) => `${s.toLocaleString('en-US')} (${pct(shares[i]!)})`).join(', ') + ' (target: each 20-45 %)',
    );
    h.note('cluster: commands per primary', commands.map((c) => c.toLocaleString('en-US')).join(', '));
    h.note('cluster: script calls per guarded call (all primaries)', (totalScripts / clusterCalls).toFixed(2));
    const spans = await Promise.all(workers.map((w) => w.ask({ type: 'telemetry' })));
    const exported = spans.reduce((a, r) => a + (r.type === 'telemetry' ? r.spansExported : 0), 0);
    const ended = spans.reduce((a, r) => a + (r.type === 'telemetry' ? r.spansEnded : 0), 0);
    h.note('cluster: worker telemetry', `${exported} spans exported of ${ended} ended (the SDK is registered in each worker)`);
    const deniedTotal = Object.values(denied).reduce((a, b) => a + b, 0);
    for (const [what, n] of Object.entries(denied)) h.note(`cluster: denied (should be none): ${what}`, String(n));
    return {
      cluster_throughput_per_s: Math.round(median(flow.cluster)),
      cluster_single_throughput_per_s: Math.round(median(flow.single)),
      cluster_vs_single: round(ratio),
      cluster_node_script_calls: scripts.join('/'),
      cluster_node_commands: commands.join('/'),
      cluster_node_share_min: round(Math.min(...shares)),
      cluster_node_share_max: round(Math.max(...shares)),
      cluster_scripts_per_call: round(totalScripts / clusterCalls),
      cluster_denied: deniedTotal,
      cluster_worker_spans_exported: exported,
      cluster_worker_spans_ended: ended,
    };
  } finally {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.proc.exitCode !== null || !w.proc.connected) return resolve();
            w.proc.once('exit', () => resolve());
            w.proc.disconnect();
          }),
      ),
    );
    await cluster.stop();
    await single.stop();
  }
};

export default suite;
