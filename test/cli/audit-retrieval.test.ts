import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { z } from 'zod';
import { guardTool } from '../../src/index.js';
import { createTestAuthority } from '../../src/testing/index.js';
import { startOtlpReceiver } from '../telemetry/otlp-receiver.js';
import { cliHarness, type CliHarness } from './support.js';

let h: CliHarness;

beforeAll(async () => {
  h = cliHarness();
  const t = await createTestAuthority();
  const search = guardTool(t.guard, { name: 'crm.search', description: 's', input: z.object({ records: z.number() }), risk: 'read' }, (a, ctx) => {
    ctx.retrieved({ source: 'crm.customers', records: a.records });
    return 'rows';
  });
  const token = await t.grant({ tools: { 'crm.search': { retrieval: { maxRecords: 10 } } } });
  await search({ records: 5 }, { capability: token });
  await search({ records: 50 }, { capability: token }).catch(() => undefined);
  // Real OTLP JSON: the spans go through the OTLP HTTP exporter to a receiver on 127.0.0.1.
  const receiver = await startOtlpReceiver();
  const exporter = new OTLPTraceExporter({ url: `${receiver.endpoint}/v1/traces` });
  await new Promise<void>((resolve, reject) =>
    exporter.export([...t.spans.spans()], (r) => (r.code === 0 ? resolve() : reject(r.error ?? new Error('export failed')))),
  );
  await exporter.shutdown();
  writeFileSync(join(h.dir, 'spans.json'), receiver.raw.get('/v1/traces')![0]!);
  await receiver.stop();
  await t.close();
});
afterAll(() => h.cleanup());

test('the audit text and page show a retrieval denial with its code and reason', async () => {
  const text = await h.run(['audit', '--no-html', 'spans.json']);
  expect(text.code).toBe(0);
  expect(text.out).toMatch(/1 allowed.*1 denied/);
  expect(text.out).toContain('retrieval_limit_exceeded 1');
  const page = await h.run(['audit', 'spans.json']);
  expect(page.code).toBe(0);
  const html = readFileSync(join(h.dir, 'tessera-audit.html'), 'utf8');
  expect(html).toContain('denied: retrieval_limit_exceeded');
  expect(html).toContain('read 50 records in one call; the grant allows at most 10');
});
