/**
 * `tessera revoke`: revokes a capability, every capability of an agent, or of an intent, in the
 * Redis store the guards share. From the next call on, every guard on that store refuses it.
 */
import { revocationKey } from '../../store/types.js';
import { REVOKED_FOREVER } from '../../store/revocation.js';
import { createRedisStore, type RedisClientLike } from '../../store/redis.js';
import { parseCommand, renderHelp, str, type CommandSpec } from '../args.js';
import { CliError, CliUsageError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { durationSeconds, type Duration } from '../../util/time.js';

export const revokeSpec: CommandSpec = {
  name: 'revoke',
  summary: 'revoke capabilities in a shared Redis store',
  usage: '--redis <url> (--capability <id> | --agent <identity> | --intent <id>)',
  options: {
    redis: { type: 'string', value: '<url>', help: 'redis:// or rediss:// URL; default $TESSERA_REDIS_URL (keeps a password out of the process list)' },
    prefix: { type: 'string', value: '<prefix>', help: 'Key prefix the guards use; default "tessera:"' },
    capability: {
      type: 'string',
      value: '<id>',
      help: 'Revoke one capability by its id (a root grant\'s jti, or a delegated capability\'s derived id, as `tessera inspect` shows), with its delegated children',
    },
    agent: { type: 'string', value: '<identity>', help: 'Revoke every capability granted to this agent up to this millisecond' },
    intent: { type: 'string', value: '<id>', help: 'Revoke every capability granted for this intent up to this millisecond' },
    ahead: {
      type: 'string',
      value: '<duration>',
      help: 'With --agent or --intent: also revoke tokens issued up to this long after now, for issuers whose clock runs ahead; default none',
    },
    keep: { type: 'string', value: '<duration>', help: 'How long the revocation is kept; default 24h, the guards\' longest accepted lifetime' },
    client: { type: 'string', value: 'redis|ioredis', help: 'Which Redis client package to use; default whichever is installed ("redis" first)' },
  },
  notes: 'Needs the "redis" or the "ioredis" package (npm install redis, or npm install ioredis).\n\nExit codes: 0 revoked, 1 the store could not be reached, 2 usage.',
};

interface Connection {
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
function where(url: URL): string {
  return `${url.hostname}${url.port ? `:${url.port}` : ''}`;
}

export async function revoke(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(revokeSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(revokeSpec));
    return EXIT.ok;
  }
  const targets = (['capability', 'agent', 'intent'] as const).filter((k) => str(p, k) !== undefined);
  if (targets.length !== 1) throw new CliUsageError('name exactly one of --capability, --agent or --intent\nRun "tessera revoke --help".');
  const kind = targets[0]!;
  const id = str(p, kind)!;
  const raw = str(p, 'redis') ?? io.env.TESSERA_REDIS_URL;
  if (raw === undefined) throw new CliUsageError('give --redis <url> or set TESSERA_REDIS_URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliUsageError('the Redis URL is not valid');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new CliUsageError('the Redis URL must start with redis:// or rediss://');
  let keepSec: number;
  try {
    // The guard keeps revocations for its longest accepted lifetime plus skew and a margin.
    keepSec = durationSeconds((str(p, 'keep') ?? '24h') as Duration, '--keep') + 90;
  } catch (err) {
    throw new CliUsageError(err instanceof Error ? err.message : '--keep is invalid');
  }

  let ahead = 0;
  const aheadRaw = str(p, 'ahead');
  if (aheadRaw !== undefined) {
    if (kind === 'capability') throw new CliUsageError('--ahead applies to --agent and --intent only');
    try {
      ahead = durationSeconds(aheadRaw as Duration, '--ahead') * 1000;
    } catch (err) {
      throw new CliUsageError(err instanceof Error ? err.message : '--ahead is invalid');
    }
  }
  const which = str(p, 'client');
  if (which !== undefined && which !== 'redis' && which !== 'ioredis') throw new CliUsageError('--client must be "redis" or "ioredis"');

  let connection: Connection | 'missing';
  try {
    connection = await connect(raw, which);
  } catch {
    throw new CliError(`could not reach Redis at ${where(url)}`);
  }
  if (connection === 'missing') {
    throw new CliError(
      which === undefined
        ? 'tessera revoke needs a Redis client package: npm install redis (or npm install ioredis)'
        : `tessera revoke --client ${which} needs the "${which}" package: npm install ${which}`,
    );
  }
  const store = createRedisStore({ client: connection.client, ...(str(p, 'prefix') ? { prefix: str(p, 'prefix')! } : {}), timeoutMs: 5000 });
  const atMs = kind === 'capability' ? REVOKED_FOREVER : Math.floor(io.clock()) + ahead;
  const key = kind === 'capability' ? revocationKey.capability(id) : kind === 'agent' ? revocationKey.agent(id) : revocationKey.intent(id);
  try {
    await store.revoke(key, atMs, keepSec * 1000);
  } catch (err) {
    const why = err instanceof Error && 'reason' in err && typeof err.reason === 'string' ? `: ${err.reason}` : '';
    throw new CliError(`the revocation could not be written to Redis at ${where(url)}${why}`);
  } finally {
    store.close();
    await connection.close();
  }
  const what = kind === 'capability' ? `capability ${id}` : `every capability granted to ${kind} ${id} until now`;
  io.stdout(`revoked ${what}\n`);
  return EXIT.ok;
}
