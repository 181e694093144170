/**
 * The rollout the advisor exists for, end to end: record a scenario in shadow mode with evidence
 * on, export the spans as OTLP JSON through the real exporter, run `tessera advise` on the file,
 * then run the same scenario in enforce mode under a capability granted from the advised grant
 * file. Every call the guard allowed in shadow mode is allowed again; calls outside what the
 * scenario did (another tool, another directory, another host, a larger amount, a larger read)
 * are each denied with their one code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createAuthority, type Authority, type GrantRequest } from '../../src/index.js';
import { createManualClock, createSpanCapture } from '../../src/testing/index.js';
import { cliHarness, type CliHarness } from '../cli/support.js';
import { startOtlpReceiver } from '../telemetry/otlp-receiver.js';

import { AGENT, AUDIENCE, ISSUER, PURPOSE, RECORDED, REFUSED, TASKS, world, type Call } from './scenario.js';

async function otlpJsonOf(spans: ReadableSpan[]): Promise<string> {
  const receiver = await startOtlpReceiver();
  try {
    const exporter = new OTLPTraceExporter({ url: `${receiver.endpoint}/v1/traces` });
    await new Promise<void>((resolve, reject) => exporter.export(spans, (r) => (r.code === 0 ? resolve() : reject(r.error ?? new Error('export failed')))));
    await exporter.shutdown();
    return receiver.raw.get('/v1/traces')![0]!;
  } finally {
    await receiver.stop();
  }
}

const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'allowed',
    (err: unknown) => (err !== null && typeof err === 'object' && 'code' in err ? String(err.code) : `threw ${String(err)}`),
  );

let h: CliHarness;
let authority: Authority;
const clock = createManualClock();
const capture = createSpanCapture();
let advised: GrantRequest & { issuer?: string };

beforeAll(async () => {
  h = cliHarness();
  authority = await createAuthority({ issuer: ISSUER, clock });
  const shadow = world(authority, clock, 'shadow', capture.tracer);
  const { issuer: _issuer, ...recorded } = RECORDED;
  for (const [intent, calls] of Object.entries(TASKS)) {
    const capability = await authority.grant({ ...(recorded as unknown as GrantRequest), intent: { id: intent, purpose: PURPOSE } });
    for (const [tool, args] of [...calls, ...(intent === 'report-2026-10' ? REFUSED : [])]) {
      expect(await outcome(shadow.tools[tool]!(args, { capability }))).toBe('allowed');
    }
  }
  // Shadow mode ran every call, the refused one included.
  expect(shadow.ran).toHaveLength(10);
  writeFileSync(join(h.dir, 'spans.json'), await otlpJsonOf(capture.spans()));
  writeFileSync(join(h.dir, 'recorded.json'), JSON.stringify(RECORDED));
  const r = await h.run(['advise', '--grant', 'recorded.json', '--out', 'advised.json', 'spans.json']);
  expect(r.err).toBe('Wrote advised.json\n');
  expect(r.code).toBe(0);
  expect(r.out).toContain('1 would have been denied in enforce mode (arguments_out_of_scope 1)');
  advised = JSON.parse(readFileSync(join(h.dir, 'advised.json'), 'utf8')) as typeof advised;
});
afterAll(async () => {
  h.cleanup();
  await capture.shutdown();
});

describe('shadow mode, advise, enforce', () => {
  test('the advised grant is the scenario\'s: the tools it used, its directory, hosts, amounts and reads', () => {
    expect(advised.tools).toEqual({
      'db.query': {
        args: { rows: { min: 10, max: 40 } },
        maxCalls: 2,
        retrieval: { maxRecords: 60, maxBytes: 6000, perIntent: { maxRecords: 60, maxBytes: 6000 }, labels: ['customer'] },
      },
      'fs.read': { args: { path: { pathWithin: '/srv/app/reports' } }, maxCalls: 3 },
      'payments.refund': { args: { amount: { min: 25, max: 80 } }, maxCalls: 2 },
      'web.get': { args: { url: { hostIn: ['api.example.com', 'status.example.com'] } }, maxCalls: 2 },
    });
    expect(advised.agent).toBe(AGENT);
    expect(advised.audience).toBe(AUDIENCE);
    expect(advised.ttl).toBe(60);
  });

  test('in enforce mode under the advised grant, every call shadow mode allowed is allowed again', async () => {
    const enforce = world(authority, clock, 'enforce', capture.tracer);
    const { issuer: _issuer, ...request } = advised;
    for (const [intent, calls] of Object.entries(TASKS)) {
      const capability = await authority.grant({ ...request, intent: { id: intent, purpose: PURPOSE } });
      for (const [tool, args] of calls) expect(`${tool} ${await outcome(enforce.tools[tool]!(args, { capability }))}`).toBe(`${tool} allowed`);
    }
    expect(enforce.ran).toHaveLength(9);
  });

  const OUT_OF_SCOPE: readonly [what: string, call: Call, code: string][] = [
    ['another tool', ['fs.delete', { path: '/srv/app/reports/q1.csv' }], 'tool_not_granted'],
    ['another directory', ['fs.read', { path: '/srv/app/config/secrets.env' }], 'arguments_out_of_scope'],
    ['the refused directory', ['fs.read', { path: '/home/admin/.ssh/id_ed25519' }], 'arguments_out_of_scope'],
    ['another host', ['web.get', { url: 'https://billing.example.com/export' }], 'arguments_out_of_scope'],
    ['a larger amount', ['payments.refund', { amount: 81, currency: 'EUR' }], 'arguments_out_of_scope'],
    ['a larger query', ['db.query', { table: 'orders', rows: 41 }], 'arguments_out_of_scope'],
  ];
  for (const [what, [tool, args], code] of OUT_OF_SCOPE) {
    test(`${what}: ${code}`, async () => {
      const enforce = world(authority, clock, 'enforce', capture.tracer);
      const { issuer: _issuer, ...request } = advised;
      const capability = await authority.grant({ ...request, intent: { id: 'report-2026-12', purpose: PURPOSE } });
      expect(await outcome(enforce.tools[tool]!(args, { capability }))).toBe(code);
    });
  }

  test('a read past the advised retrieval bound is withheld: retrieval_limit_exceeded', async () => {
    const enforce = world(authority, clock, 'enforce', capture.tracer);
    const { issuer: _issuer, ...request } = advised;
    // Rows within the advised range, but the tool reports more records than the advised bound.
    const tools = { ...request.tools, 'db.query': { ...request.tools['db.query']!, args: {} } };
    const capability = await authority.grant({ ...request, tools, intent: { id: 'report-2026-12', purpose: PURPOSE } });
    expect(await outcome(enforce.tools['db.query']!({ table: 'orders', rows: 61 }, { capability }))).toBe('retrieval_limit_exceeded');
  });
});
