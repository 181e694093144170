/**
 * `tessera policy validate`: checks rules files (and Cedar policy sets, where available) the way
 * a guard would at start-up, with each problem at its line and column.
 */
import { list, parseCommand, renderHelp, safeWord, type CommandSpec } from '../args.js';
import { CliError, CliUsageError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { loadPolicyFile, parseToolFlag } from '../policy-files.js';

export const policyValidateSpec: CommandSpec = {
  name: 'policy validate',
  summary: 'check policy files before a guard loads them',
  usage: '[--tool <name[:risk]>] <file> [<file> ...]',
  positionals: { min: 1, max: 100 },
  options: {
    tool: { type: 'string', multiple: true, value: '<name[:risk]>', help: 'A tool Cedar policies govern, e.g. email.send:external (tools named in Action literals are added)' },
  },
  notes: `Rules files are .json, .yaml or .yml; Cedar policy sets are .cedar, validated (strict mode)
against a schema built from the tools. The command line does not know your tools' argument
schemas, so a Cedar policy that reads context.args is best validated with createCedarEngine.

Exit codes: 0 every file is valid, 1 at least one is not, 2 usage.`,
};

export async function policyValidate(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(policyValidateSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(policyValidateSpec));
    return EXIT.ok;
  }
  const tools = list(p, 'tool').map(parseToolFlag);
  let failed = 0;
  for (const file of p.positionals) {
    try {
      const engine = (await loadPolicyFile(io, file, tools)) as { ruleIds?: readonly string[]; policyIds?: readonly string[] };
      const rules = engine.ruleIds;
      const policies = engine.policyIds;
      const what = rules ? ` (${rules.length} rule${rules.length === 1 ? '' : 's'})` : policies ? ` (${policies.length} polic${policies.length === 1 ? 'y' : 'ies'})` : '';
      io.stdout(`ok       ${file}${what}\n`);
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
  notes: 'Commands:\n  validate   check rules and Cedar files the way a guard would at start-up',
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
