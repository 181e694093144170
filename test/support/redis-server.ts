/**
 * A real redis-server for tests and benchmarks: loopback only, a free port, its own data
 * directory, append-only file fsynced on every write (so a killed server loses nothing it
 * acknowledged), and the DEBUG command enabled for local clients (to simulate a slow server).
 * `startRedisCluster` starts a real Redis Cluster the same way: primaries and replicas on free
 * loopback ports, joined with `redis-cli --cluster create`.
 *
 * No vitest import here: the benchmark uses it too.
 */
import { enabledOrSkipped, freePort } from './environment.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills the server with SIGKILL, as a crash would; the data directory stays. */
  kill(): Promise<void>;
  /** Starts the server again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** Whether `redis-server` can be run on this machine. */
export function hasRedisServer(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/**
 * For test files: true when Redis tests can run. A missing server is a loud skip on a developer's
 * machine and an error in CI (`CI=true`), so the Redis tests are never silently skipped there.
 */
export function redisTestsEnabled(): boolean {
  return enabledOrSkipped(
    hasRedisServer(),
   
    'redis-server is not installed: the Redis store tests are SKIPPED. Install it (Debian/Ubuntu: apt-get install -y redis-server) to run them.',
  );
}

async function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface RedisServerOptions {
  /**
   * Append-only file fsynced on every write, so a killed server keeps everything it acknowledged;
   * default true. The benchmark turns it off: an fsync per write measures the disk, not Redis.
   */
  durable?: boolean;
  /** Extra redis-server arguments (the cluster adds its own). */
  extraArgs?: readonly string[];
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const durable = options.durable ?? true;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-'));
  let port = await freePort();
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', durable ? 'yes' : 'no',
      '--appendfsync', 'always',
      '--enable-debug-command', 'local',
      '--loglevel', 'warning',
      ...(options.extraArgs ?? []),
    ];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    await waitUntil(async () => {
      if (exited) throw new Error(`redis-server exited while starting on port ${port}`);
      return pingOnce(port);
    }, `redis-server on 127.0.0.1:${port}`);
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };

  try {
    await launch();
  } catch {
    // Another process may have taken the port between probing and binding: try once more.
    await halt('SIGKILL');
    port = await freePort();
    await launch();
  }

  return {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGKILL');
      await launch();
    },
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For test files that start a cluster: true when `redis-server` and `redis-cli` can both run.
 * Missing, they are a loud skip on a developer's machine and an error in CI, like the server.
 */
export function redisClusterTestsEnabled(): boolean {
  if (!redisTestsEnabled()) return false;
  return enabledOrSkipped(
    hasRedisCli(),
    'redis-cli is not installed: the Redis Cluster tests are SKIPPED. Install it (Debian/Ubuntu: apt-get install -y redis-tools).',
  );
}

/** Whether `redis-cli` (Debian's redis-tools, installed with redis-server) can be run. */
export function hasRedisCli(): boolean {
  const r = spawnSync('redis-cli', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/** One node of a test cluster. */
export interface ClusterNode {
  readonly port: number;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts the node again with its data and cluster configuration. */
  restart(): Promise<void>;
}

export interface RedisCluster {
  readonly nodes: readonly ClusterNode[];
  /** The nodes that were primaries when the cluster was created, in slot order. */
  readonly primaries: readonly ClusterNode[];
  /** Loopback address of every node, for a client's seed list. */
  readonly seeds: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  /** `redis-cli -p <port> <args>` against one node; its output, trimmed. */
  cli(port: number, ...args: string[]): string;
  /** The port of the node now serving `slot` as primary (as that node's peers see it). */
  primaryFor(slot: number): number;
  /** Waits until every live node reports `cluster_state:ok` and every slot is served. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Waits until every replica of the primary on `port` has received everything it wrote. */
  waitReplicated(port: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Primaries; default 3. */
  primaries?: number;
  /** Replicas per primary; default 0. */
  replicas?: number;
  /** As for `startRedisServer`; default true. */
  durable?: boolean;
  /** `cluster-node-timeout`, ms: how long a primary may be silent before a replica takes over; default 1000. */
  nodeTimeoutMs?: number;
}

/**
 * A real Redis Cluster: `primaries * (1 + replicas)` redis-servers with `--cluster-enabled yes`
 * on free loopback ports (each with its own bus port), joined by `redis-cli --cluster create`.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const primaryCount = options.primaries ?? 3;
  const replicas = options.replicas ?? 0;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const count = primaryCount * (1 + replicas);
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const busPort = await freePort();
      servers.push(
        await startRedisServer({
          durable: options.durable ?? true,
          extraArgs: [
            '--cluster-enabled', 'yes',
            '--cluster-port', String(busPort),
            '--cluster-config-file', `nodes-${i}.conf`,
            '--cluster-node-timeout', String(nodeTimeoutMs),
            // A replica takes over however long it was cut off: a test kills a primary on purpose.
            '--cluster-replica-validity-factor', '0',
            // The other primaries keep answering for their slots while one range has no primary.
            '--cluster-require-full-coverage', 'no',
          ],
        }),
      );
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  }
  const cli = (port: number, ...args: string[]): string => {
    const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
    if (r.error !== undefined) throw r.error;
    return (r.stdout ?? '').trim();
  };
  const created = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (created.status !== 0) {
    await Promise.all(servers.map((s) => s.stop()));
    throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
  }
  const alive = new Set(servers.map((s) => s.port));
  const nodes: ClusterNode[] = servers.map((s) => ({
    port: s.port,
    async kill() {
      alive.delete(s.port);
      await s.kill();
    },
    async restart() {
      await s.restart();
      alive.add(s.port);
    },
  }));
  const slotOwners = (): Array<{ start: number; end: number; port: number }> => {
    for (const port of alive) {
      const ranges = clusterSlots(port);
      if (ranges.length > 0) return ranges;
    }
    return [];
  };
  const primaryFor = (slot: number): number => {
    const owner = slotOwners().find((r) => slot >= r.start && slot <= r.end);
    if (owner === undefined) throw new Error(`no node serves slot ${slot}`);
    return owner.port;
  };
  const waitHealthy = async (timeoutMs = 20_000): Promise<void> => {
    await waitUntil(async () => {
      for (const port of alive) {
        const info = cli(port, 'CLUSTER', 'INFO');
        if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false;
      }
      const owners = slotOwners();
      return owners.length > 0 && owners.every((o) => alive.has(o.port));
    }, 'the Redis cluster to be healthy', timeoutMs);
  };
  const infoField = (port: number, field: string): string | undefined =>
    new RegExp(`^${field}:(.*)$`, 'm').exec(cli(port, 'INFO', 'replication'))?.[1]?.trim();
  const waitReplicated = async (port: number, timeoutMs = 10_000): Promise<void> => {
    const offset = Number(infoField(port, 'master_repl_offset'));
    const replicaPorts = [...alive].filter((p) => p !== port && infoField(p, 'master_port') === String(port));
    if (replicaPorts.length === 0) throw new Error(`the primary on port ${port} has no live replica`);
    await waitUntil(async () => replicaPorts.every((p) => Number(infoField(p, 'slave_repl_offset')) >= offset), `replicas of ${port} to catch up`, timeoutMs);
  };
  await waitHealthy();
  const initial = slotOwners().sort((a, b) => a.start - b.start);
  const primaries = initial.map((o) => nodes.find((n) => n.port === o.port)!).filter((n, i, all) => all.indexOf(n) === i);
  return {
    nodes,
    primaries,
    seeds: servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
    cli,
    primaryFor,
    waitHealthy,
    waitReplicated,
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/** One node's `CLUSTER SLOTS`: each range with its primary's port. */
function clusterSlots(port: number): Array<{ start: number; end: number; port: number }> {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '-2', '--json', 'CLUSTER', 'SLOTS'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || r.stdout.trim() === '' || !r.stdout.trim().startsWith('[')) return [];
  const slots = JSON.parse(r.stdout) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
  return slots.map(([start, end, primary]) => ({ start, end, port: Number(primary[1]) }));
}
