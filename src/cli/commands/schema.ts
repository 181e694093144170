/** `tessera schema`: the span and metric schema dashboards are built from. */
import { METRICS, SPAN_ATTRIBUTES, EVENT } from '../../telemetry/attributes.js';
import { renderTelemetrySchema } from '../../telemetry/schema-doc.js';
import { flag, parseCommand, renderHelp, type CommandSpec } from '../args.js';
import { EXIT, type CliIo, type ExitCode } from '../io.js';

export const schemaSpec: CommandSpec = {
  name: 'schema',
  summary: 'print the span and metric schema (Markdown, or JSON)',
  usage: '[--json]',
  options: { json: { type: 'boolean', help: 'Print JSON' } },
};

export async function schema(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(schemaSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(schemaSpec));
    return EXIT.ok;
  }
  io.stdout(flag(p, 'json') ? `${JSON.stringify({ spanAttributes: SPAN_ATTRIBUTES, events: EVENT, metrics: METRICS }, null, 2)}\n` : renderTelemetrySchema());
  return EXIT.ok;
}
