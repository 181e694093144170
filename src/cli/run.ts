/**
 * The `tessera` command: dispatch, top-level help, and the one place errors become exit codes.
 */
import { safeWord } from './args.js';
import { advise } from './commands/advise.js';
import { audit } from './commands/audit.js';
import { authorityCommand } from './commands/authority.js';
import { check } from './commands/check.js';
import { demo } from './commands/demo.js';
import { gateway } from './commands/gateway.js';
import { grant } from './commands/grant.js';
import { inspect } from './commands/inspect.js';
import { keys } from './commands/keys.js';
import { policy } from './commands/policy.js';
import { quarantine } from './commands/quarantine.js';
import { revoke } from './commands/revoke.js';
import { schema } from './commands/schema.js';
import { CliError, EXIT, type CliIo, type ExitCode } from './io.js';

type Command = (argv: readonly string[], io: CliIo) => Promise<ExitCode>;

const COMMANDS: ReadonlyMap<string, { run: Command; summary: string }> = new Map([
  ['keys', { run: keys, summary: 'keys generate: create an authority signing key' }],
  ['grant', { run: grant, summary: 'sign a capability from a JSON or YAML spec' }],
  ['inspect', { run: inspect, summary: 'verify a capability and show what it allows' }],
  ['check', { run: check, summary: 'dry run: would this call be allowed, and if not, why' }],
  ['policy', { run: policy, summary: 'policy validate: check rules and Cedar files' }],
  ['revoke', { run: revoke, summary: 'revoke capabilities in a shared Redis store' }],
  ['quarantine', { run: quarantine, summary: 'quarantine list | lift: the agents tripwires stopped' }],
  ['authority', { run: authorityCommand, summary: 'authority serve: run the authority as a service' }],
  ['gateway', { run: gateway, summary: 'put MCP servers behind the guard (stdio or HTTP)' }],
  ['audit', { run: audit, summary: 'summarize exported spans (OTLP JSON) as text and HTML' }],
  ['advise', { run: advise, summary: 'least-privilege grants and over-grant report from recorded evidence' }],
  ['schema', { run: schema, summary: 'print the span and metric schema' }],
  ['demo', { run: demo, summary: 'run the demo agent task' }],
]);

export const VERSION = '0.1.0';

export function topHelp(): string {
  const width = Math.max(...[...COMMANDS.keys()].map((k) => k.length));
  const list = [...COMMANDS].map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join('\n');
  return `tessera: least-privilege, just-in-time authority for AI agents' tools

Usage: tessera <command> [options]

Commands:
${list}

Run "tessera <command> --help" for a command's options.

Exit codes: 0 ok, 1 failure, 2 usage error, 3 denied or rejected, 4 needs approval.
`;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(topHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    io.stdout(`${VERSION}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.get(name);
  if (command === undefined) {
    io.stderr(`tessera: unknown command ${safeWord(name)}\nRun "tessera --help".\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr(`tessera ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    // An unexpected error's message may quote input (a key, a token): say what failed, not what it read.
    io.stderr(`tessera ${name}: unexpected ${err instanceof Error ? err.name : 'error'}; nothing secret is shown. Re-run with --help to check the options.\n`);
    return EXIT.failure;
  }
}
