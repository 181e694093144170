/**
 * `tessera check`: a dry run through a real guard with a no-op tool. It answers "would this call
 * with these arguments be allowed by this capability and policy, and if not, why?", with the
 * same code and reason the guard would give.
 */
import { z } from 'zod';
import { isToolDeniedError, standardsTags } from '../../errors.js';
import type { ApprovalRequest, PolicyEngine, RiskTier } from '../../policy/types.js';
import { RISK_TIERS } from '../../policy/types.js';
import { flag, list, parseCommand, renderHelp, requireStr, str, type CommandSpec } from '../args.js';
import { checkingGuard, readCapability } from '../capability-input.js';
import { readInput } from '../files.js';
import { CliError, CliUsageError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { loadPolicyFile } from '../policy-files.js';
import { guardTool } from '../../guard/guard-tool.js';

export const checkSpec: CommandSpec = {
  name: 'check',
  summary: 'dry run: would this call be allowed, and if not, why',
  usage: '--jwks <file|url> --tool <name> [--args <json>] [--policy <file>] [--risk <tier>] <token|file|->',
  positionals: { min: 1, max: 1 },
  options: {
    jwks: { type: 'string', value: '<file|url>', help: 'The authority\'s public JWKS' },
    tool: { type: 'string', short: 't', value: '<name>', help: 'The tool to call' },
    args: { type: 'string', short: 'a', value: '<json>', help: 'The call\'s arguments as a JSON object; default {}' },
    'args-file': { type: 'string', value: '<file>', help: 'Read the arguments from a JSON file (or - for stdin)' },
    risk: { type: 'string', value: '<tier>', help: `The tool's risk tier: ${RISK_TIERS.join(', ')}; default write` },
    policy: { type: 'string', short: 'p', value: '<file>', multiple: true, help: 'A rules file (.json, .yaml) or Cedar policy set (.cedar); default: high-risk tiers need approval' },
    environment: { type: 'string', value: '<json>', help: 'Deployment context policies see, e.g. {"name":"production"}' },
    issuer: { type: 'string', value: '<url>', help: 'Require this issuer; default: the token\'s own' },
    audience: { type: 'string', value: '<name>', help: 'The guard\'s audience; default: the token\'s own' },
    json: { type: 'boolean', help: 'Print JSON' },
  },
  notes: `Checked: signature and claims, tool granted, argument constraints, policy, approval need.
Not checked: the tool's own argument schema, call counts and revocations in a live store,
proof of possession for key-bound capabilities (a dry run has no agent key).

Exit codes: 0 allowed, 3 denied, 4 allowed only after a human approves, 1 error, 2 usage.`,
};

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new CliUsageError(`${what} is not valid JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CliUsageError(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

type Verdict =
  | { decision: 'allow'; tool: string; capabilityId: string | undefined; intentId: string | undefined }
  | { decision: 'require_approval'; tool: string; reason: string; policyIds: readonly string[] }
  | { decision: 'deny'; tool: string; code: string; reason: string; standards: string[]; policyIds: readonly string[] };

export async function check(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(checkSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(checkSpec));
    return EXIT.ok;
  }
  const jwks = requireStr(p, checkSpec, 'jwks');
  const toolName = requireStr(p, checkSpec, 'tool');
  const risk = (str(p, 'risk') ?? 'write') as RiskTier;
  if (!RISK_TIERS.includes(risk)) throw new CliUsageError(`--risk must be one of ${RISK_TIERS.join(', ')}`);
  const argsFile = str(p, 'args-file');
  if (argsFile !== undefined && str(p, 'args') !== undefined) throw new CliUsageError('give --args or --args-file, not both');
  const args =
    argsFile !== undefined ? parseJsonObject(await readInput(io, argsFile, 'arguments file'), `arguments file ${argsFile}`) : parseJsonObject(str(p, 'args') ?? '{}', '--args');
  const environment = str(p, 'environment') === undefined ? undefined : parseJsonObject(str(p, 'environment')!, '--environment');
  const policy: PolicyEngine[] = [];
  for (const file of list(p, 'policy')) policy.push(await loadPolicyFile(io, file, [{ name: toolName, risk }]));
  const token = await readCapability(io, p.positionals[0]!);

  let asked: ApprovalRequest | undefined;
  const { guard } = await checkingGuard(
    io,
    token,
    { jwks, issuer: str(p, 'issuer'), audience: str(p, 'audience') },
    {
      ...(policy.length > 0 ? { policy } : {}),
      ...(environment ? { environment } : {}),
      approver: (request) => {
        asked = request;
        return { approved: false, reason: 'dry run' };
      },
    },
  );
  let tool;
  try {
    tool = guardTool(guard, { name: toolName, description: 'tessera check (dry run)', input: z.looseObject({}), risk }, () => undefined);
  } catch (err) {
    throw new CliUsageError(`--tool: ${err instanceof Error ? err.message : 'invalid tool name'}`);
  }

  let verdict: Verdict;
  try {
    await tool(args, { capability: token });
    const cap = await guard.inspect(token);
    verdict = { decision: 'allow', tool: toolName, capabilityId: cap.id, intentId: cap.intent.id };
  } catch (err) {
    if (!isToolDeniedError(err)) throw new CliError('the check could not be completed');
    verdict =
      asked !== undefined && err.code === 'approval_denied'
        ? { decision: 'require_approval', tool: toolName, reason: asked.why, policyIds: asked.policyIds }
        : { decision: 'deny', tool: toolName, code: err.code, reason: err.reason, standards: standardsTags(err.code), policyIds: err.policyIds };
  }

  if (flag(p, 'json')) io.stdout(`${JSON.stringify(verdict, null, 2)}\n`);
  else io.stdout(`${describeVerdict(verdict)}\n`);
  return verdict.decision === 'allow' ? EXIT.ok : verdict.decision === 'deny' ? EXIT.denied : EXIT.approval;
}

function describeVerdict(v: Verdict): string {
  if (v.decision === 'allow') {
    return `allowed: "${v.tool}" with these arguments is granted by capability ${v.capabilityId} (intent ${v.intentId}) and policy allows it`;
  }
  const policies = v.policyIds.length > 0 ? `\npolicies: ${v.policyIds.join(', ')}` : '';
  if (v.decision === 'require_approval') return `needs approval: ${v.reason}${policies}`;
  return `denied (${v.code}): ${v.reason}\nstandards: ${v.standards.join(', ')}${policies}`;
}
