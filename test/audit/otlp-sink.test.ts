/**
 * The OpenTelemetry-logs sink with the real logs SDK and an in-memory exporter: the exported
 * bodies are the log's lines, and they verify like the files.
 */
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { createDecisionLog, createFileSink, createOtlpLogSink, DECISION_LOG_EVENT, readDecisionLogFiles, verifyDecisionLog } from '../../src/telemetry/decision-log/index.js';
import { setup } from '../support/fixtures.js';

test('each line becomes one log record whose body is the line; the exported copy verifies as the file does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-otlp-'));
  try {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
    const log = createDecisionLog({
      sinks: [createFileSink({ dir }), createOtlpLogSink({ logger: provider.getLogger('tessera') })],
      checkpoint: { records: 2 },
    });
    const t = await setup({ decisionLog: log });
    const cap = await t.grant();
    await t.guard.withCapability(cap, async () => {
      await t.readTicket({ ticketId: '4711' });
      await t.readTicket({ ticketId: '1' }).catch(() => undefined);
      await t.readTicket({ ticketId: '4711' });
    });
    await log.close();
    await provider.forceFlush();
    const records = exporter.getFinishedLogRecords();
    const bodies = records.map((r) => r.body as string);
    expect(records.every((r) => r.eventName === DECISION_LOG_EVENT)).toBe(true);
    const [file] = await readDecisionLogFiles([dir]);
    expect(`${bodies.join('\n')}\n`).toBe(file!.segments[0]!.text);
    const r = await verifyDecisionLog([{ name: 'otlp', text: `${bodies.join('\n')}\n` }], { jwks: log.jwks() });
    expect({ findings: r.findings, records: r.records, heads: r.heads }).toEqual({ findings: [], records: 3, heads: 2 });
    await provider.shutdown();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
