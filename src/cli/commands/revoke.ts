/**
 * `tessera revoke`: revokes a capability, every capability of an agent, or of an intent, in the
 * Redis store the guards share. From the next call on, every guard on that store refuses it.
 */
import { revocationKey } from '../../store/types.js';
import { REVOKED_FOREVER } from '../../store/revocation.js';
import { parseCommand, renderHelp, str, type CommandSpec } from '../args.js';
import { CliError, CliUsageError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { redisFlags, storeFromFlags } from '../redis-connection.js';
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
  // Usage errors first: nothing connects before every flag is checked.
  redisFlags(p, io);
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
  const { store, where, close } = await storeFromFlags(p, io, 'revoke');
  const atMs = kind === 'capability' ? REVOKED_FOREVER : Math.floor(io.clock()) + ahead;
  const key = kind === 'capability' ? revocationKey.capability(id) : kind === 'agent' ? revocationKey.agent(id) : revocationKey.intent(id);
  try {
    await store.revoke(key, atMs, keepSec * 1000);
  } catch (err) {
    const why = err instanceof Error && 'reason' in err && typeof err.reason === 'string' ? `: ${err.reason}` : '';
    throw new CliError(`the revocation could not be written to Redis at ${where}${why}`);
  } finally {
    await close();
  }
  const what = kind === 'capability' ? `capability ${id}` : `every capability granted to ${kind} ${id} until now`;
  io.stdout(`revoked ${what}\n`);
  return EXIT.ok;
}
