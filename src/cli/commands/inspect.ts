/**
 * `tessera inspect`: verifies a capability as a guard would and says what it allows, in words.
 * The token itself is never printed.
 */
import type { VerifiedCapability } from '../../capability/verify.js';
import { isTesseraError } from '../../errors.js';
import { flag, parseCommand, renderHelp, requireStr, str, type CommandSpec } from '../args.js';
import { checkingGuard, readCapability } from '../capability-input.js';
import { countdown, describeGrant } from '../describe.js';
import { CliError, EXIT, type CliIo, type ExitCode } from '../io.js';

export const inspectSpec: CommandSpec = {
  name: 'inspect',
  summary: 'verify a capability and show what it allows',
  usage: '--jwks <file|url> [--issuer <url>] [--audience <name>] [--json] <token|file|->',
  positionals: { min: 1, max: 1 },
  options: {
    jwks: { type: 'string', value: '<file|url>', help: 'The authority\'s public JWKS (a file, or an https URL)' },
    issuer: { type: 'string', value: '<url>', help: 'Require this issuer; default: the token\'s own (reported as not checked)' },
    audience: { type: 'string', value: '<name>', help: 'Require this audience; default: the token\'s own (reported as not checked)' },
    json: { type: 'boolean', help: 'Print JSON' },
  },
  notes: `Give the token inline, as a file, or "-" to read it from stdin (keeps it out of shell history).

Exit codes: 0 valid, 3 rejected (with its denial code), 1 error, 2 usage.`,
};

interface InspectReport {
  valid: true;
  id: string;
  issuer: string;
  agent: string;
  audience: string[];
  intent: { id: string; purpose: string };
  issuedAt: string;
  notBefore: string;
  expiresAt: string;
  expiresInSec: number;
  boundToKey: string | null;
  delegation: { depth: number; agents: string[]; ids: string[] };
  tools: Record<string, { args: unknown; maxCalls: number | null; inWords: string[] }>;
  notChecked: string[];
}

function report(cap: VerifiedCapability, nowMs: number, assumed: readonly string[]): InspectReport {
  const tools: InspectReport['tools'] = Object.create(null) as InspectReport['tools'];
  for (const [name, grant] of Object.entries(cap.claims.tools)) {
    tools[name] = { args: grant.args ?? {}, maxCalls: grant.maxCalls ?? null, inWords: describeGrant(grant) };
  }
  const iso = (s: number): string => new Date(s * 1000).toISOString();
  return {
    valid: true,
    id: cap.id,
    issuer: cap.issuer,
    agent: cap.subject,
    audience: [...cap.audience],
    intent: { id: cap.intent.id, purpose: cap.intent.purpose },
    issuedAt: iso(cap.issuedAt),
    notBefore: iso(cap.notBefore),
    expiresAt: iso(cap.chainExpiresAt),
    expiresInSec: Math.round(cap.chainExpiresAt - nowMs / 1000),
    boundToKey: cap.confirmationJkt ?? null,
    delegation: { depth: cap.chain.depth, agents: [...cap.chain.agents], ids: [...cap.chain.ids] },
    tools,
    notChecked: [...assumed],
  };
}

function render(r: InspectReport, nowMs: number): string {
  const rows: [string, string][] = [
    ['capability', 'valid (signature, typ, issuer key, audience, lifetime checked)'],
    ['issuer', r.issuer + (r.notChecked.includes('issuer') ? '  (taken from the token; pass --issuer to require it)' : '')],
    ['agent', r.agent],
    ['audience', r.audience.join(', ') + (r.notChecked.includes('audience') ? '  (taken from the token; pass --audience to require it)' : '')],
    ['intent', `${r.intent.id}: ${r.intent.purpose}`],
    ['id', r.id],
    ['issued', r.issuedAt],
    ['expires', `${r.expiresAt} (${countdown(Date.parse(r.expiresAt), nowMs)})`],
    ['key binding', r.boundToKey === null ? 'none: a bearer capability' : `proof of possession by key ${r.boundToKey}`],
    ['delegation', r.delegation.depth === 0 ? 'none: granted by the authority' : `${r.delegation.agents.join(' -> ')} (depth ${r.delegation.depth})`],
  ];
  const width = Math.max(...rows.map((x) => x[0].length));
  const head = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
  const tools = Object.entries(r.tools)
    .map(([name, t]) => `  ${name}\n${t.inWords.map((w) => `    - ${w}`).join('\n')}`)
    .join('\n');
  return `${head}\ntools\n${tools}\n`;
}

export async function inspect(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(inspectSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(inspectSpec));
    return EXIT.ok;
  }
  const jwks = requireStr(p, inspectSpec, 'jwks');
  const token = await readCapability(io, p.positionals[0]!);
  const { guard, assumed } = await checkingGuard(io, token, { jwks, issuer: str(p, 'issuer'), audience: str(p, 'audience') });
  let cap: VerifiedCapability;
  try {
    cap = await guard.inspect(token);
  } catch (err) {
    if (isTesseraError(err)) {
      const reason = err.reason;
      if (flag(p, 'json')) io.stdout(`${JSON.stringify({ valid: false, code: err.code, reason })}\n`);
      throw new CliError(`capability rejected (${err.code}): ${reason}`, EXIT.denied);
    }
    throw new CliError('the capability could not be verified', EXIT.denied);
  }
  const r = report(cap, io.clock(), assumed);
  io.stdout(flag(p, 'json') ? `${JSON.stringify(r, null, 2)}\n` : render(r, io.clock()));
  return EXIT.ok;
}
