/**
 * `tessera audit verify` and `tessera audit prove`: the decision log, checked offline with the
 * log's published key set. Several logs (one per process) are verified together and reported
 * one by one.
 */
import { resolve } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { readDecisionLogFiles, type LogFiles } from '../../telemetry/decision-log/files.js';
import { ProofUnavailableError, proveCall, proveConsistency, verifyDecisionLog, type LogVerification } from '../../telemetry/decision-log/verify.js';
import { flag, parseCommand, renderHelp, requireStr, str, type CommandSpec } from '../args.js';
import { readInput } from '../files.js';
import { CliError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { loadJwks } from '../keys-file.js';

export const auditVerifySpec: CommandSpec = {
  name: 'audit verify',
  summary: "check decision logs against their signed tree heads with the log's published key set",
  usage: '--jwks <file> [--head <file>]... [--json] <dir|file>...',
  positionals: { min: 1, max: 1000 },
  options: {
    jwks: { type: 'string', value: '<file>', help: "The log's public JWKS (DecisionLog.jwks())" },
    head: { type: 'string', value: '<file>', multiple: true, help: 'A signed tree head held elsewhere (a witness, the OTLP copy): a log shorter than it is truncated' },
    json: { type: 'boolean', help: 'Print the result as JSON' },
  },
  notes:
    'Each log (one file prefix, one process) is reported on its own.\nExit codes: 0 every log is intact and complete, 1 a log was tampered with or is incomplete\n(a gap, records not yet covered by a signed tree head), 2 usage.',
};

export const auditProveSpec: CommandSpec = {
  name: 'audit prove',
  summary: "print an inclusion proof for one call's record, or a consistency proof between two tree heads",
  usage: '--jwks <file> (<call-id> | --consistency <size1>:<size2>) <dir|file>...',
  positionals: { min: 1, max: 1000 },
  options: {
    jwks: { type: 'string', value: '<file>', help: "The log's public JWKS" },
    consistency: { type: 'string', value: '<size1>:<size2>', help: 'Prove that the head of size2 extends the head of size1 (either may be empty: first and latest)' },
  },
  notes: 'The proof is JSON: verify its tree head with the JWKS, then the path as RFC 9162 §2.1.3.2\n(inclusion) or §2.1.4.2 (consistency) says. The files must hold exactly one log.',
};

async function loadLogJwks(io: CliIo, path: string): Promise<JSONWebKeySet> {
  const jwks = await loadJwks(io, path);
  if (jwks instanceof URL) throw new CliError('--jwks: give the log\'s key set as a file');
  return jwks as JSONWebKeySet;
}

async function readLogs(io: CliIo, paths: readonly string[]): Promise<LogFiles[]> {
  try {
    return await readDecisionLogFiles(paths.map((p) => resolve(io.cwd, p)));
  } catch {
    throw new CliError(`${paths.join(', ')}: cannot be read`);
  }
}

const summary = (r: LogVerification): string => {
  const state = !r.intact ? 'TAMPERED' : r.complete ? 'intact' : 'INCOMPLETE';
  const head = r.latestHead === undefined ? 'no signed tree head' : `latest tree head: ${r.latestHead.size} records, ${new Date(r.latestHead.time).toISOString()}`;
  const lines = [`${r.logId ?? r.source}: ${state} (${r.records} records, ${r.heads} signed tree heads; ${head})`];
  for (const f of r.findings) lines.push(`  ${f.kind}: ${f.message}`);
  return `${lines.join('\n')}\n`;
};

export async function auditVerify(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(auditVerifySpec, argv);
  if (p.help) {
    io.stdout(renderHelp(auditVerifySpec));
    return EXIT.ok;
  }
  const jwks = await loadLogJwks(io, requireStr(p, auditVerifySpec, 'jwks'));
  const heads: string[] = [];
  for (const file of (p.values.head as string[] | undefined) ?? []) {
    heads.push(...(await readInput(io, file, 'tree head file')).split(/\s+/).filter((s) => s.length > 0));
  }
  const logs = await readLogs(io, p.positionals);
  if (logs.length === 0) throw new CliError('no decision-log files found (<prefix>.<segment>.jsonl)');
  const results: LogVerification[] = [];
  for (const log of logs) results.push(await verifyDecisionLog(log.segments, { jwks, heads, source: log.source }));
  if (flag(p, 'json')) io.stdout(`${JSON.stringify({ logs: results.map((r) => ({ ...r, latestHead: r.latestHead?.jws })) }, null, 2)}\n`);
  else for (const r of results) io.stdout(summary(r));
  return results.every((r) => r.complete) ? EXIT.ok : EXIT.failure;
}

export async function auditProve(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(auditProveSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(auditProveSpec));
    return EXIT.ok;
  }
  const jwks = await loadLogJwks(io, requireStr(p, auditProveSpec, 'jwks'));
  const consistency = str(p, 'consistency');
  const paths = consistency === undefined ? p.positionals.slice(1) : p.positionals;
  if (paths.length === 0) throw new CliError('name the log files or directory after the call id', EXIT.usage);
  const logs = await readLogs(io, paths);
  if (logs.length !== 1) throw new CliError(`the files hold ${logs.length} logs; give the files of exactly one`);
  const { segments } = logs[0]!;
  try {
    if (consistency !== undefined) {
      const m = /^(\d*):(\d*)$/.exec(consistency);
      if (m === null) throw new CliError('--consistency takes <size1>:<size2>', EXIT.usage);
      const sizes = { ...(m[1] ? { first: Number(m[1]) } : {}), ...(m[2] ? { second: Number(m[2]) } : {}) };
      io.stdout(`${JSON.stringify(await proveConsistency(segments, sizes, { jwks }), null, 2)}\n`);
    } else {
      io.stdout(`${JSON.stringify(await proveCall(segments, p.positionals[0]!, { jwks }), null, 2)}\n`);
    }
  } catch (err) {
    if (err instanceof ProofUnavailableError) throw new CliError(err.message);
    throw err;
  }
  return EXIT.ok;
}
