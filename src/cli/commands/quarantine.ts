/**
 * `tessera quarantine list | lift`: the agents tripwires stopped, in the Redis store the guards
 * share, and lifting one. Lifting names who lifts it and why; both are kept on the record.
 */
import type { RedisStore } from '../../store/redis.js';
import { liftQuarantine, listQuarantines, type QuarantineRecord } from '../../store/tripwire-state.js';
import { flag, parseCommand, renderHelp, safeWord, str, type CommandSpec } from '../args.js';
import { CliError, CliUsageError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { storeFromFlags } from '../redis-connection.js';

const connection = {
  redis: { type: 'string', value: '<url>', help: 'redis:// or rediss:// URL; default $TESSERA_REDIS_URL (keeps a password out of the process list)' },
  prefix: { type: 'string', value: '<prefix>', help: 'Key prefix the guards use; default "tessera:"' },
  client: { type: 'string', value: 'redis|ioredis', help: 'Which Redis client package to use; default whichever is installed ("redis" first)' },
} as const;

export const quarantineListSpec: CommandSpec = {
  name: 'quarantine list',
  summary: 'the agents tripwires stopped',
  usage: '--redis <url> [--all] [--json]',
  options: {
    ...connection,
    all: { type: 'boolean', help: 'Also the quarantines a person lifted (kept until they expire)' },
    json: { type: 'boolean', help: 'One JSON array of the records' },
  },
  notes: 'Exit codes: 0 listed, 1 the store could not be reached, 2 usage.',
};

export const quarantineLiftSpec: CommandSpec = {
  name: 'quarantine lift',
  summary: "lift an agent's quarantine",
  usage: '--redis <url> --agent <identity> --by <person> --reason <why>',
  options: {
    ...connection,
    agent: { type: 'string', value: '<identity>', help: 'The quarantined agent' },
    by: { type: 'string', value: '<person>', help: 'Who lifts it (kept on the record)' },
    reason: { type: 'string', value: '<why>', help: 'Why (kept on the record)' },
  },
  notes: `Removes the stop the tripwire wrote: the agent's revocation goes back to the stop it held
before the first trip (none: removed). A stop written after the trip by someone else stays, and
the command says so.

Exit codes: 0 lifted, 1 not quarantined or the store could not be reached, 2 usage.`,
};

export const quarantineSpec: CommandSpec = {
  name: 'quarantine',
  summary: 'list and lift the quarantines tripwires wrote',
  usage: 'list | lift',
  options: {},
  notes: "Commands:\n  list   the agents tripwires stopped\n  lift   lift an agent's quarantine (who and why are recorded)",
};

async function withStore<T>(p: ReturnType<typeof parseCommand>, io: CliIo, what: string, fn: (store: RedisStore) => Promise<T>): Promise<T> {
  const { store, where, close } = await storeFromFlags(p, io, 'quarantine');
  try {
    return await fn(store);
  } catch (err) {
    if (err instanceof CliError || err instanceof TypeError) throw err;
    const why = err instanceof Error && 'reason' in err && typeof err.reason === 'string' ? `: ${err.reason}` : '';
    throw new CliError(`${what} failed at Redis ${where}${why}`);
  } finally {
    await close();
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

function line(r: QuarantineRecord): string {
  const stop = r.scope === 'intent' ? `intent ${r.intent ?? ''}` : 'agent';
  const lifted = r.lifted === undefined ? '' : `\n  lifted ${iso(r.lifted.atMs)} by ${r.lifted.by}: ${r.lifted.reason} (stop ${r.lifted.stop})`;
  return `${r.agent}\n  ${r.tripwire} at ${iso(r.atMs)} by guard ${r.by}${r.trips > 1 ? ` (${r.trips} trips)` : ''}: ${r.reason}\n  stopped: ${stop}; expires ${iso(r.expiresAtMs)}${lifted}\n`;
}

export async function quarantineList(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(quarantineListSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(quarantineListSpec));
    return EXIT.ok;
  }
  const records = await withStore(p, io, 'listing the quarantines', (store) => listQuarantines(store, io.clock(), { includeLifted: flag(p, 'all') }));
  if (flag(p, 'json')) io.stdout(`${JSON.stringify(records, null, 2)}\n`);
  else if (records.length === 0) io.stdout('no agent is quarantined\n');
  else io.stdout(records.map(line).join(''));
  return EXIT.ok;
}

export async function quarantineLift(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(quarantineLiftSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(quarantineLiftSpec));
    return EXIT.ok;
  }
  const agent = str(p, 'agent');
  const by = str(p, 'by');
  const reason = str(p, 'reason');
  if (agent === undefined || by === undefined || reason === undefined) throw new CliUsageError('give --agent, --by and --reason: a quarantine is lifted by a person, on the record');
  let lifted: QuarantineRecord | undefined;
  try {
    lifted = await withStore(p, io, 'lifting the quarantine', (store) => liftQuarantine(store, agent, { by, reason, atMs: Math.floor(io.clock()) }));
  } catch (err) {
    if (err instanceof TypeError) throw new CliUsageError(err.message.replace('lift.by', '--by').replace('lift.reason', '--reason'));
    throw err;
  }
  if (lifted === undefined) throw new CliError(`${agent} is not quarantined`);
  const stop =
    lifted.lifted?.stop === 'kept'
      ? '; a later stop written by someone else stays: the agent is still stopped'
      : lifted.lifted?.stop === 'absent'
        ? '; its stop had already expired'
        : '';
  io.stdout(`lifted the quarantine of ${agent}${stop}\n`);
  return EXIT.ok;
}

export async function quarantine(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  if (sub === 'list') return quarantineList(rest, io);
  if (sub === 'lift') return quarantineLift(rest, io);
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout(renderHelp(quarantineSpec));
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  throw new CliUsageError(`unknown command quarantine ${safeWord(sub)}\nRun "tessera quarantine --help".`);
}
