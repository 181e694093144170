/**
 * `tessera policy validate`: checks rules files (and Cedar policy sets, where available) the way
 * a guard would at start-up, with each problem at its line and column.
 */
import { parseCommand, renderHelp, safeWord, type CommandSpec } from '../args.js';
import { CliError, CliUsageError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { loadPolicyFile } from '../policy-files.js';

export const policyValidateSpec: CommandSpec = {
  name: 'policy validate',
  summary: 'check policy files before a guard loads them',
  usage: '<file> [<file> ...]',
  positionals: { min: 1, max: 100 },
  options: {},
  notes: 'Rules files are .json, .yaml or .yml.\n\nExit codes: 0 every file is valid, 1 at least one is not, 2 usage.',
};

export async function policyValidate(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(policyValidateSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(policyValidateSpec));
    return EXIT.ok;
  }
  let failed = 0;
  for (const file of p.positionals) {
    try {
      const engine = await loadPolicyFile(io, file);
      const ids = (engine as { ruleIds?: readonly string[] }).ruleIds;
      io.stdout(`ok       ${file}${ids ? ` (${ids.length} rule${ids.length === 1 ? '' : 's'})` : ''}\n`);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      failed++;
      io.stdout(`invalid  ${file}\n`);
      io.stderr(`${err.message}\n`);
    }
  }
  return failed === 0 ? EXIT.ok : EXIT.failure;
}

export const policySpec: CommandSpec = {
  name: 'policy',
  summary: 'work with policy files',
  usage: 'validate <file> [...]',
  options: {},
  notes: 'Commands:\n  validate   check rules files the way a guard would at start-up',
};

export async function policy(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  if (sub === 'validate') return policyValidate(rest, io);
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout(renderHelp(policySpec));
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  throw new CliUsageError(`unknown command policy ${safeWord(sub)}\nRun "tessera policy --help".`);
}
