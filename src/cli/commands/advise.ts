/**
 * `tessera advise`: reads spans recorded with evidence (OTLP JSON files or directories of them,
 * streamed a span at a time) and writes, per agent and intent purpose, the least-privilege grant
 * that would have allowed every allowed call, with an over-grant report against the grants given.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createAdvisor, type Advice, type GrantSpec } from '../../advise/advisor.js';
import { parseGrantSpec } from '../../advise/grant-spec.js';
import { observeOtlpSpan } from '../../advise/observed-call.js';
import { adviceJson, renderAdviceText } from '../../advise/render.js';
import { flag, list, parseCommand, renderHelp, str, type CommandSpec } from '../args.js';
import { readStructured } from '../files.js';
import { CliError, CliUsageError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { OtlpFormatError } from '../audit/otlp-json.js';
import { streamOtlpSpans } from '../audit/otlp-stream.js';

export const adviseSpec: CommandSpec = {
  name: 'advise',
  summary: 'derive least-privilege grants from recorded evidence, and report over-grants',
  usage: '[--grant <spec>]... [--format text|json] [--out <file|dir>] <spans.json|dir>...',
  positionals: { min: 1, max: 1000 },
  options: {
    grant: { type: 'string', multiple: true, value: '<spec>', help: 'A grant spec (JSON or YAML) the calls were made under; the advice is never wider' },
    format: { type: 'string', value: 'text|json', help: 'How to print the advice; default text' },
    out: { type: 'string', short: 'o', value: '<file|dir>', help: 'Write the advised grant spec to this file (a directory when there are several)' },
    force: { type: 'boolean', help: 'With --out, replace existing files' },
    audience: { type: 'string', value: '<aud>', help: 'Audience of the advised grants when no --grant names one' },
    margin: { type: 'string', value: '<fraction>', help: 'Headroom on call counts, task length and retrieval volumes; default 0.5' },
  },
  notes: `Spans files are OTLP JSON as "tessera audit" reads them (one export, an array, or one per
line); a directory stands for its *.json, *.jsonl and *.ndjson files. Only calls the guard
allowed shape the advice; record them with evidence on (telemetry: { evidence: true }).
Each --grant applies to the calls of its agent and intent purpose.`,
};

const SPAN_FILE = /\.(json|jsonl|ndjson)$/i;

async function inputFiles(io: CliIo, paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const full = resolve(io.cwd, p);
    let s;
    try {
      s = await stat(full);
    } catch {
      throw new CliError(`spans file ${p}: no such file or directory`);
    }
    if (s.isDirectory()) {
      const names = (await readdir(full)).filter((n) => SPAN_FILE.test(n)).sort();
      if (names.length === 0) throw new CliError(`spans directory ${p}: no *.json, *.jsonl or *.ndjson files`);
      files.push(...names.map((n) => join(full, n)));
    } else {
      files.push(full);
    }
  }
  return files;
}

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'grant';

async function writeGrants(io: CliIo, advice: Advice, out: string, force: boolean): Promise<string[]> {
  const grants = advice.groups.filter((g) => g.grant !== undefined);
  if (grants.length === 0) throw new CliError('no call was allowed: there is no grant to write');
  const text = (g: GrantSpec): string => `${JSON.stringify(g, null, 2)}\n`;
  const write = async (path: string, body: string): Promise<void> => {
    try {
      await writeFile(resolve(io.cwd, path), body, { encoding: 'utf8', flag: force ? 'w' : 'wx' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new CliError(`${path} already exists; pass --force to replace it`);
      throw new CliError(`${path}: cannot be written (${code ?? 'error'})`);
    }
  };
  if (grants.length === 1) {
    await write(out, text(grants[0]!.grant!));
    return [out];
  }
  await mkdir(resolve(io.cwd, out), { recursive: true }).catch(() => {
    throw new CliError(`${out}: cannot be created as a directory (the evidence holds ${grants.length} grants)`);
  });
  const written: string[] = [];
  for (const [i, g] of grants.entries()) {
    const agent = g.agent.split('/').pop() ?? g.agent;
    const path = join(out, `${String(i + 1).padStart(2, '0')}-${slug(agent)}-${slug(g.purpose ?? 'unknown')}.json`);
    await write(path, text(g.grant!));
    written.push(path);
  }
  return written;
}

/** The grant specs named by `--grant`, checked; a bad one fails naming its file. */
export async function readGrants(io: CliIo, paths: readonly string[]): Promise<GrantSpec[]> {
  const grants: GrantSpec[] = [];
  for (const path of paths) {
    const value = await readStructured(io, path, 'grant spec');
    try {
      grants.push(parseGrantSpec(value, `grant spec ${path}`));
    } catch (err) {
      throw new CliError(err instanceof Error ? err.message : `grant spec ${path}: invalid`);
    }
  }
  return grants;
}

export async function advise(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(adviseSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(adviseSpec));
    return EXIT.ok;
  }
  const format = str(p, 'format') ?? 'text';
  if (format !== 'text' && format !== 'json') throw new CliUsageError('--format must be text or json');
  const marginText = str(p, 'margin');
  const margin = marginText === undefined ? undefined : Number(marginText);
  if (margin !== undefined && !(/^\d+(\.\d+)?$/.test(marginText!) && margin <= 100)) throw new CliUsageError('--margin must be a number from 0 to 100, e.g. 0.5');
  const grants = await readGrants(io, list(p, 'grant'));
  const audience = str(p, 'audience');
  const advisor = createAdvisor({ grants, ...(margin === undefined ? {} : { margin }), ...(audience === undefined ? {} : { audience }) });
  for (const file of await inputFiles(io, p.positionals)) {
    const shown = file.startsWith(io.cwd) ? file.slice(io.cwd.length + 1) : file;
    try {
      await streamOtlpSpans(createReadStream(file, { highWaterMark: 1 << 20 }), (span) => {
        const call = observeOtlpSpan(span);
        if (call !== undefined) advisor.add(call);
      });
    } catch (err) {
      if (err instanceof OtlpFormatError) throw new CliError(`spans file ${shown}: ${err.message}`);
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string') throw new CliError(`spans file ${shown}: cannot be read (${code})`);
      throw err;
    }
  }
  const advice = advisor.finish();
  io.stdout(format === 'json' ? `${JSON.stringify(adviceJson(advice), null, 2)}\n` : renderAdviceText(advice));
  const out = str(p, 'out');
  if (out !== undefined) {
    const written = await writeGrants(io, advice, out, flag(p, 'force'));
    io.stderr(`Wrote ${written.join(', ')}\n`);
    if (advice.groups.some((g) => g.grant !== undefined && g.grant.audience === undefined)) {
      io.stderr('The advised grant names no audience: pass --audience or a --grant that names one before "tessera grant".\n');
    }
  }
  return EXIT.ok;
}
