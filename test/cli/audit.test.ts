import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createTestAuthority } from '../../src/testing/index.js';
import { startOtlpReceiver } from '../telemetry/otlp-receiver.js';
import { cliHarness, type CliHarness } from './support.js';
import { guardTool } from '../../src/index.js';

/** Real OTLP JSON: the spans go through the OTLP HTTP exporter to a receiver on 127.0.0.1. */
async function otlpJsonOf(spans: ReadableSpan[]): Promise<string> {
  const receiver = await startOtlpReceiver();
  try {
    const exporter = new OTLPTraceExporter({ url: `${receiver.endpoint}/v1/traces` });
    await new Promise<void>((resolve, reject) =>
      exporter.export(spans, (r) => (r.code === 0 ? resolve() : reject(r.error ?? new Error('export failed')))),
    );
    await exporter.shutdown();
    return receiver.raw.get('/v1/traces')![0]!;
  } finally {
    await receiver.stop();
  }
}

const HOSTILE = '<img src=x onerror="alert(1)">';
let h: CliHarness;
let exported: string;

beforeAll(async () => {
  h = cliHarness();
  const approve = new Set(['yes']);
  const t = await createTestAuthority({
    guard: { approver: (r) => ({ approved: approve.has(String(r.argsPreview.answer)), approver: 'ops@example.com', reason: 'no' }) },
  });
  const read = guardTool(t.guard, { name: 'tickets.read', description: 'r', input: z.object({ id: z.string() }), risk: 'read' }, () => 'ok');
  const deploy = guardTool(t.guard, { name: 'deploy', description: 'd', input: z.object({ answer: z.string() }), risk: 'production' }, () => 'ok');
  const broken = guardTool(t.guard, { name: 'broken', description: 'b', input: z.object({}), risk: 'read' }, () => {
    throw new Error('down');
  });
  const a = await t.grant({ tools: { 'tickets.read': { args: { id: { eq: '1' } } }, deploy: {}, broken: {} }, intent: { id: 'ticket-1', purpose: 'p' } });
  const b = await t.grant({ tools: { 'tickets.read': {} }, agent: 'spiffe://test.example/agents/other', intent: { id: HOSTILE, purpose: 'p' } });
  const settle = (p: Promise<unknown>) => p.then(() => undefined, () => undefined);
  await settle(read({ id: '1' }, { capability: a }));
  t.clock.advance(1000);
  await settle(read({ id: '2' }, { capability: a }));
  await settle(deploy({ answer: 'yes' }, { capability: a }));
  await settle(deploy({ answer: 'no' }, { capability: a }));
  await settle(broken({}, { capability: a }));
  await settle(deploy({ answer: 'yes' }, { capability: b }));
  await settle(read({ id: '9' }, { capability: b }));
  await settle(read({ id: '9' }));
  exported = await otlpJsonOf(t.spans.spans());
  await t.close();
  writeFileSync(join(h.dir, 'spans.json'), exported);
});
afterAll(() => h.cleanup());

describe('tessera audit', () => {
  test('per intent and per agent: allowed, denied by code, approved, tool errors', async () => {
    const r = await h.run(['audit', '--no-html', 'spans.json']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n').slice(1).join('\n')).toBe(
      [
        '',
        'Per intent',
        '  intent                          allowed  denied  approved  tool errors  denied by code',
        '  (no verified capability)        0        1       0         0            capability_missing 1',
        '  <img src=x onerror="alert(1)">  1        1       0         0            tool_not_granted 1',
        '  ticket-1                        2        2       1         1            approval_denied 1, arguments_out_of_scope 1',
        '',
        'Per agent',
        '  agent                               allowed  denied  approved  tool errors  denied by code',
        '  (unknown agent)                     0        1       0         0            capability_missing 1',
        '  spiffe://test.example/agents/other  1        1       0         0            tool_not_granted 1',
        '  spiffe://test.example/agents/test   2        2       1         1            approval_denied 1, arguments_out_of_scope 1',
        '',
      ].join('\n'),
    );
    // Span times come from the OpenTelemetry SDK's own clock, not the guard's.
    expect(r.out.split('\n')[0]).toMatch(
      /^8 guarded call\(s\) from \d{4}-\d\d-\d\dT[\d:.]+Z to \d{4}-\d\d-\d\dT[\d:.]+Z: 3 allowed \(1 after approval\), 4 denied, 1 tool error\(s\)$/,
    );
    expect(existsSync(join(h.dir, 'tessera-audit.html'))).toBe(false);
  });

  test('the HTML page escapes every value and loads nothing', async () => {
    const r = await h.run(['audit', 'spans.json']);
    expect(r).toMatchObject({ code: 0, err: 'Wrote tessera-audit.html\n' });
    const html = readFileSync(join(h.dir, 'tessera-audit.html'), 'utf8');
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(html).not.toMatch(/<script|<link|<img|https?:\/\//);
    expect(html.match(/class="mark (allow|deny|error)" style="left:/g)).toHaveLength(8);
    expect(html).toContain('<tr class="error call" id="call-');
  });

  test('--json gives the same numbers to scripts', async () => {
    const r = await h.run(['audit', '--no-html', '--json', 'spans.json']);
    const j = JSON.parse(r.out) as { totals: unknown; byIntent: { key: string; deniedBy: Record<string, number> }[]; calls: unknown[] };
    expect(j.totals).toEqual({ allowed: 3, denied: 4, errors: 1, approved: 1 });
    expect(j.byIntent.find((g) => g.key === 'ticket-1')?.deniedBy).toEqual({ arguments_out_of_scope: 1, approval_denied: 1 });
    expect(j.calls).toHaveLength(8);
  });

  test('reads one export per line and arrays of exports', async () => {
    writeFileSync(join(h.dir, 'lines.jsonl'), `${exported}\n${exported}\n`);
    writeFileSync(join(h.dir, 'array.json'), `[${exported},${exported}]`);
    for (const file of ['lines.jsonl', 'array.json']) {
      const r = await h.run(['audit', '--no-html', file]);
      expect(r.out.split('\n')[0]).toMatch(/^16 guarded call\(s\)/);
    }
  });

  test('input that is not OTLP JSON fails clearly', async () => {
    writeFileSync(join(h.dir, 'junk.txt'), 'hello\nworld');
    writeFileSync(join(h.dir, 'other.json'), '{"spans": []}');
    writeFileSync(join(h.dir, 'empty.json'), '');
    expect(await h.run(['audit', '--no-html', 'junk.txt'])).toMatchObject({
      code: 1,
      err: 'tessera audit: spans file junk.txt: line 1 is not JSON (expected OTLP JSON, one export per line or one document)\n',
    });
    expect(await h.run(['audit', '--no-html', 'other.json'])).toMatchObject({
      code: 1,
      err: 'tessera audit: spans file other.json: expected "resourceSpans" (OTLP JSON trace export)\n',
    });
    expect(await h.run(['audit', '--no-html', 'empty.json'])).toMatchObject({ code: 0, out: 'No guarded tool calls found.\n' });
    expect((await h.run(['audit', '--no-html', 'missing.json'])).code).toBe(1);
  });
});
