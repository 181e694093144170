/**
 * `tessera revoke`: revokes a capability, every capability of an agent, or of an intent, in the
 * Redis store the guards share. From the next call on, every guard on that store refuses it.
 */
import { revocationKey } from '../../store/types.js';
import { createRedisStore } from '../../store/redis.js';
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
    capability: { type: 'string', value: '<id>', help: 'Revoke one capability by its id (jti), with its delegated children' },
    agent: { type: 'string', value: '<identity>', help: 'Revoke every capability granted to this agent until now' },
    intent: { type: 'string', value: '<id>', help: 'Revoke every capability granted for this intent until now' },
    keep: { type: 'string', value: '<duration>', help: 'How long the revocation is kept; default 24h, the guards\' longest accepted lifetime' },
  },
  notes: 'Needs the "redis" package (npm install redis).\n\nExit codes: 0 revoked, 1 the store could not be reached, 2 usage.',
};

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

  let redis: typeof import('redis');
  try {
    redis = await import('redis');
  } catch {
    throw new CliError('tessera revoke needs the "redis" package: npm install redis');
  }
  const client = redis.createClient({ url: raw, disableOfflineQueue: true, socket: { connectTimeout: 3000, reconnectStrategy: false } });
  // Connection errors are reported once below, by host and port only.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch {
    throw new CliError(`could not reach Redis at ${where(url)}`);
  }
  const store = createRedisStore({ client, ...(str(p, 'prefix') ? { prefix: str(p, 'prefix')! } : {}), timeoutMs: 5000 });
  const nowMs = io.clock();
  const key = kind === 'capability' ? revocationKey.capability(id) : kind === 'agent' ? revocationKey.agent(id) : revocationKey.intent(id);
  try {
    await store.revoke(key, kind === 'capability' ? Number.MAX_SAFE_INTEGER : nowMs, keepSec * 1000);
  } catch {
    throw new CliError(`the revocation could not be written to Redis at ${where(url)}`);
  } finally {
    store.close();
    await client.quit().catch(() => undefined);
  }
  const what = kind === 'capability' ? `capability ${id}` : `every capability granted to ${kind} ${id} until now`;
  io.stdout(`revoked ${what}\n`);
  return EXIT.ok;
}
