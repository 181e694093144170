/**
 * A short agent task through the guard, with the embedded defaults: generated keys, the memory
 * store, and the OpenTelemetry SDK exporting spans to memory so they can be printed. The task is
 * the one `tessera demo` runs (src/cli/commands/demo.ts); this adds the span pipeline and prints
 * what it recorded.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { runPackagedDemo, table, WARM_UP_TOOL, type DemoRow } from '../src/cli/commands/demo.js';

export async function runDemo(out: (line: string) => void = console.log): Promise<{ rows: DemoRow[]; spans: number }> {
  const exporter = new InMemorySpanExporter();
  // No resource detection (its asynchronous attributes would delay export) and no log exporter:
  // the demo prints what it records instead of sending it anywhere.
  const sdk = new NodeSDK({ spanProcessors: [new SimpleSpanProcessor(exporter)], autoDetectResources: false, logRecordProcessors: [] });
  sdk.start();
  try {
    const rows = await runPackagedDemo({ clock: Date.now }, out);

    // The warm-up's spans are not part of the task.
    const spans = exporter.getFinishedSpans().filter((s) => s.attributes['gen_ai.tool.name'] !== WARM_UP_TOOL);
    out(`\nSpans recorded (${spans.length}):\n`);
    table(
      spans.map((s) => ({
        span: s.name,
        decision: String(s.attributes['tessera.decision'] ?? ''),
        'error.type': String(s.attributes['error.type'] ?? ''),
        approval: String(s.attributes['tessera.approval.decision'] ?? ''),
        'side effects': s.events.map((e) => String(e.attributes?.['tessera.side_effect.kind'])).join(', '),
        'overhead µs': Number(s.attributes['tessera.guard.overhead_us'] ?? 0).toFixed(0),
      })),
      out,
    );
    out(
      '\noverhead µs: the time the guard added to a call: everything but the tool\'s own run, so it includes any wait for\n' +
        'approval. The guard warmed up on another capability first; the first call on each capability still verifies its\n' +
        'signature (cached afterwards). On a busy machine these figures vary a lot from run to run.',
    );
    return { rows, spans: spans.length };
  } finally {
    await sdk.shutdown();
  }
}
