/** Real clients of both kinds the Redis store supports, connected to a test server. */
import { Cluster as IORedisCluster, Redis as IORedis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { redisLayout } from '../../src/store/redis-layout.js';
import type { RedisClientLike } from '../../src/store/redis.js';

export type ClientKind = 'ioredis' | 'node-redis';
export const CLIENT_KINDS: readonly ClientKind[] = ['ioredis', 'node-redis'];

export interface TestClient {
  readonly kind: ClientKind;
  readonly client: RedisClientLike;
  /** Sends a raw command (for inspecting keys and faults). */
  command(...args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * `listenErrors: false` leaves the client without an `error` listener of its own, as a careless
 * host would: the store's listener is then all that stands between an outage and a crash.
 */
export async function connectClient(kind: ClientKind, port: number, options: { listenErrors?: boolean } = {}): Promise<TestClient> {
  const listen = options.listenErrors ?? true;
  if (kind === 'ioredis') {
    const c = new IORedis({
      host: '127.0.0.1',
      port,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
      lazyConnect: true,
    });
    if (listen) c.on('error', () => {});
    await c.connect();
    return {
      kind,
      client: c,
      command: (...args) => c.call(args[0]!, ...args.slice(1)),
      close: async () => {
        c.disconnect();
      },
    };
  }
  const c = createClient({
    socket: { host: '127.0.0.1', port, reconnectStrategy: () => 50 },
    disableOfflineQueue: true,
  });
  if (listen) c.on('error', () => {});
  await c.connect();
  return {
    kind,
    client: c,
    command: (...args) => c.sendCommand(args),
    close: async () => {
      c.destroy();
    },
  };
}

/** Where the store keeps a logical key (`cap:…`, `cred:…`): its Redis key under `prefix`. */
export const home = (prefix: string, key: string): string => redisLayout(prefix).home(key);
/** Every Redis key a logical key is kept under (one per shard for agent and intent revocations). */
export const copies = (prefix: string, key: string): string[] => redisLayout(prefix).copies(key);

/**
 * A Redis Cluster client of either kind, seeded with the cluster's nodes, with the offline queue
 * off (as docs/redis.md asks). Each follows MOVED and ASK, and finds a promoted replica itself.
 */
export async function connectClusterClient(
  kind: ClientKind,
  seeds: ReadonlyArray<{ readonly host: string; readonly port: number }>,
): Promise<TestClient> {
  if (kind === 'ioredis') {
    const c = new IORedisCluster(
      seeds.map((s) => ({ host: s.host, port: s.port })),
      {
        enableOfflineQueue: false,
        lazyConnect: true,
        clusterRetryStrategy: () => 50,
        retryDelayOnFailover: 50,
        retryDelayOnClusterDown: 50,
        redisOptions: { maxRetriesPerRequest: 0 },
      },
    );
    c.on('error', () => {});
    await c.connect();
    return {
      kind,
      client: c,
      command: (...args) => c.call(args[0]!, ...args.slice(1)),
      close: async () => {
        c.disconnect();
      },
    };
  }
  const c = createCluster({
    rootNodes: seeds.map((s) => ({ socket: { host: s.host, port: s.port } })),
    defaults: { socket: { reconnectStrategy: () => 50 }, disableOfflineQueue: true },
  });
  c.on('error', () => {});
  await c.connect();
  return {
    kind,
    client: c,
    command: (...args) => c.sendCommand(args[1], false, args),
    close: async () => {
      c.destroy();
    },
  };
}
