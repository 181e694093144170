/**
 * How the `tessera` commands reach Redis: from `--redis`/`--client`/`--prefix` flags (revoke,
 * quarantine) or from a configuration file's `store` (authority serve, gateway). A Redis URL may
 * carry a password, so it never reaches an error or the output: only its host and port do.
 */
import { createMemoryStore } from '../store/memory.js';
import { createRedisStore, type RedisClientLike, type RedisStore } from '../store/redis.js';
import type { TesseraStore } from '../store/types.js';
import { str, type parseCommand } from './args.js';
import { CliError, CliUsageError, type CliIo } from './io.js';

export interface Connection {
  readonly client: RedisClientLike;
  close(): Promise<void>;
}

/** Connects with node-redis or ioredis, whichever is asked for or installed; the URL never reaches an error. */
export async function connect(url: string, which: string | undefined): Promise<Connection | 'missing'> {
  if (which === undefined || which === 'redis') {
    const redis = await import('redis').catch(() => undefined);
    if (redis !== undefined) {
      const client = redis.createClient({ url, disableOfflineQueue: true, socket: { connectTimeout: 3000, reconnectStrategy: false } });
      // Connection errors are reported once by the caller, by host and port only.
      client.on('error', () => undefined);
      await client.connect();
      return { client, close: () => client.quit().then(() => undefined, () => undefined) };
    }
    if (which === 'redis') return 'missing';
  }
  const io = await import('ioredis').catch(() => undefined);
  if (io === undefined) return 'missing';
  const client = new io.Redis(url, { enableOfflineQueue: false, lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw err;
  }
  return { client, close: () => client.quit().then(() => undefined, () => client.disconnect()) };
}

/** `host:port` only: a Redis URL may carry a password. */
export const where = (url: URL): string => `${url.hostname}${url.port ? `:${url.port}` : ''}`;

export interface FlagStore {
  readonly store: RedisStore;
  /** `host:port` of the server, for messages. */
  readonly where: string;
  close(): Promise<void>;
}

/**
 * The Redis store named by `--redis` (or $TESSERA_REDIS_URL), `--client` and `--prefix`. Usage
 * errors are checked before anything connects; `command` names the command in the messages.
 */
export async function storeFromFlags(p: ReturnType<typeof parseCommand>, io: CliIo, command: string): Promise<FlagStore> {
  const { raw, url, which } = redisFlags(p, io);
  let c: Connection | 'missing';
  try {
    c = await connect(raw, which);
  } catch {
    throw new CliError(`could not reach Redis at ${where(url)}`);
  }
  if (c === 'missing') {
    throw new CliError(
      which === undefined
        ? `tessera ${command} needs a Redis client package: npm install redis (or npm install ioredis)`
        : `tessera ${command} --client ${which} needs the "${which}" package: npm install ${which}`,
    );
  }
  const connection = c;
  const store = createRedisStore({ client: connection.client, ...(str(p, 'prefix') ? { prefix: str(p, 'prefix')! } : {}), timeoutMs: 5000 });
  return {
    store,
    where: where(url),
    close: async () => {
      store.close();
      await connection.close();
    },
  };
}

/** The flags' Redis URL and client, checked: a usage error before any connection is tried. */
export function redisFlags(p: ReturnType<typeof parseCommand>, io: CliIo): { raw: string; url: URL; which: string | undefined } {
  const raw = str(p, 'redis') ?? io.env.TESSERA_REDIS_URL;
  if (raw === undefined) throw new CliUsageError('give --redis <url> or set TESSERA_REDIS_URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliUsageError('the Redis URL is not valid');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new CliUsageError('the Redis URL must start with redis:// or rediss://');
  const which = str(p, 'client');
  if (which !== undefined && which !== 'redis' && which !== 'ioredis') throw new CliUsageError('--client must be "redis" or "ioredis"');
  return { raw, url, which };
}

/** A configuration file's `store`: Redis from the URL in an environment variable, or memory. */
export type StoreConfig = { redis: { urlEnv?: string | undefined; prefix?: string | undefined; client?: 'redis' | 'ioredis' | undefined } } | { memory: Record<string, never> };

/** The store a configuration file names (memory when it names none), and how to close it. */
export async function storeFromConfig(io: CliIo, config: StoreConfig | undefined): Promise<{ store: TesseraStore; close(): Promise<void> }> {
  if (config === undefined || 'memory' in config) return { store: createMemoryStore({ clock: io.clock }), close: async () => undefined };
  const env = config.redis.urlEnv ?? 'TESSERA_REDIS_URL';
  const url = io.env[env];
  if (url === undefined) throw new CliError(`the Redis URL is read from $${env}, which is not set`);
  let connection: Connection | 'missing';
  try {
    connection = await connect(url, config.redis.client);
  } catch {
    throw new CliError(`could not reach Redis (from $${env})`);
  }
  if (connection === 'missing') throw new CliError('a Redis store needs the "redis" or "ioredis" package');
  const redisStore = createRedisStore({ client: connection.client, ...(config.redis.prefix ? { prefix: config.redis.prefix } : {}) });
  const c = connection;
  return {
    store: redisStore,
    close: async () => {
      redisStore.close();
      await c.close();
    },
  };
}
