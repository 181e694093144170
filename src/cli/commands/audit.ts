/**
 * `tessera audit`: reads spans exported as OTLP JSON and answers, per intent and per agent, what
 * was allowed, denied (by code) and approved; writes the same as a self-contained HTML page.
 */
import { resolve } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { flag, list, parseCommand, renderHelp, str, type CommandSpec } from '../args.js';
import { readInput } from '../files.js';
import { CliError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { OtlpFormatError, parseOtlpJson } from '../audit/otlp-json.js';
import { renderAuditHtml } from '../audit/render-html.js';
import { renderAuditText } from '../audit/render-text.js';
import { deniedByText, summarize, type AuditGroup } from '../audit/summarize.js';
import { auditProve, auditVerify } from './audit-log.js';
import { createAdvisor } from '../../advise/advisor.js';
import { observeSpan } from '../../advise/observed-call.js';
import { readGrants } from './advise.js';

export const auditSpec: CommandSpec = {
  name: 'audit',
  summary: 'summarize exported spans: allowed, denied (by code) and approved, per intent and agent',
  usage: '[--html <file>] [--no-html] [--json] [--grant <spec>]... <spans.json|->',
  positionals: { min: 1, max: 1 },
  options: {
    html: { type: 'string', value: '<file>', help: 'Where to write the HTML page; default tessera-audit.html' },
    'no-html': { type: 'boolean', help: 'Print only; write no HTML page' },
    json: { type: 'boolean', help: 'Print the summary as JSON' },
    grant: { type: 'string', multiple: true, value: '<spec>', help: 'A grant spec the calls were made under, for the over-grant report in the HTML page' },
  },
  notes:
    'The spans file is OTLP JSON: one ExportTraceServiceRequest, an array of them, or one per\nline (as the OpenTelemetry Collector\'s file exporter writes).\n\nThe decision log: "tessera audit verify --help" and "tessera audit prove --help".\nA spans file named verify or prove is read as ./verify or ./prove.',
};

const groupJson = (g: AuditGroup) => ({
  key: g.key,
  allowed: g.allowed,
  denied: g.denied,
  approved: g.approved,
  errors: g.errors,
  deniedBy: Object.fromEntries(g.deniedBy),
  deniedByText: deniedByText(g),
  tools: [...g.tools].sort(),
});

export async function audit(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  if (argv[0] === 'verify') return auditVerify(argv.slice(1), io);
  if (argv[0] === 'prove') return auditProve(argv.slice(1), io);
  const p = parseCommand(auditSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(auditSpec));
    return EXIT.ok;
  }
  const file = p.positionals[0]!;
  const text = await readInput(io, file, 'spans file');
  let spans;
  try {
    spans = parseOtlpJson(text);
  } catch (err) {
    if (err instanceof OtlpFormatError) throw new CliError(`spans file ${file}: ${err.message}`);
    throw err;
  }
  const summary = summarize(spans);
  if (flag(p, 'json')) {
    io.stdout(
      `${JSON.stringify({ totals: summary.totals, byIntent: summary.byIntent.map(groupJson), byAgent: summary.byAgent.map(groupJson), calls: summary.calls }, null, 2)}\n`,
    );
  } else {
    io.stdout(renderAuditText(summary));
  }
  if (!flag(p, 'no-html')) {
    const out = str(p, 'html') ?? 'tessera-audit.html';
    const grants = await readGrants(io, list(p, 'grant'));
    const advisor = createAdvisor({ grants });
    for (const span of spans) {
      const call = observeSpan({ name: span.name, startMs: span.startMs, attribute: (k) => span.attributes.get(k), events: span.events.map((e) => ({ name: e.name, attribute: (k) => e.attributes.get(k) })) });
      if (call !== undefined) advisor.add(call);
    }
    try {
      const advice = advisor.finish();
      // Without evidence or a grant the advice would only repeat the tables above.
      const shown = advice.withEvidence > 0 || grants.length > 0 ? advice : undefined;
      await writeFile(resolve(io.cwd, out), renderAuditHtml(summary, undefined, shown), 'utf8');
    } catch {
      throw new CliError(`${out}: cannot be written`);
    }
    io.stderr(`Wrote ${out}\n`);
  }
  return EXIT.ok;
}
