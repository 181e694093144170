import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compileGrantPolicy } from '../../src/server/authority/grant-policy.js';
import { cliHarness, type CliHarness } from '../cli/support.js';
import { startOtlpReceiver } from '../telemetry/otlp-receiver.js';
import { AGENT, PURPOSE, type CallInput } from './support.js';
import { guardSpans } from './spans.js';

/** Real OTLP JSON: the spans go through the OTLP HTTP exporter to a receiver on 127.0.0.1. */
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

const RECORDED = {
  issuer: 'https://authz.example.com',
  agent: AGENT,
  audience: 'support-app',
  intent: { id: 'ticket-1', purpose: PURPOSE },
  ttl: '1h',
  tools: {
    'fs.read': { args: { path: { pathWithin: '/srv' } } },
    'web.get': { args: { url: { hostIn: ['*.example.com'] } }, maxCalls: 20 },
    'tickets.read': { args: { id: { in: ['4711', '4712', '4713'] } } },
    'fs.delete': {},
  },
};

const CALLS: CallInput[] = [
  { tool: 'fs.read', args: { path: '/srv/data/reports/q1.csv' }, at: 1_000 },
  { tool: 'fs.read', args: { path: '/srv/data/reports/2024/q2.csv' }, at: 61_000 },
  { tool: 'web.get', args: { url: 'https://api.example.com/v1/x' }, at: 62_000 },
  { tool: 'tickets.read', args: { id: '4712' }, at: 63_000 },
  { tool: 'fs.read', args: { path: '/etc/passwd' }, decision: 'deny', code: 'arguments_out_of_scope', enforced: false, at: 64_000 },
  { tool: 'fs.read', args: { path: '/srv/data/x.csv' }, intent: 'ticket-2', cap: 'cap-2', at: 200_000, agent: 'spiffe://example.org/agents/other', purpose: 'Other work' },
];

let h: CliHarness;
beforeAll(async () => {
  h = cliHarness();
  const json = await otlpJsonOf(guardSpans(CALLS));
  mkdirSync(join(h.dir, 'spans'));
  // Two files in a directory: one export document, and the same export one per line.
  const doc = JSON.parse(json) as { resourceSpans: unknown[] };
  writeFileSync(join(h.dir, 'spans', 'a.json'), JSON.stringify({ resourceSpans: doc.resourceSpans }, null, 2));
  writeFileSync(join(h.dir, 'one.json'), json);
  writeFileSync(join(h.dir, 'recorded.json'), JSON.stringify(RECORDED));
});
afterAll(() => h.cleanup());

describe('tessera advise', () => {
  test('text: per agent and purpose, the tools used, the over-grant findings and the advised grant', async () => {
    const r = await h.run(['advise', '--grant', 'recorded.json', 'one.json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Agent ${AGENT}, purpose "${PURPOSE}"\n  1 intent(s), 4 allowed, 0 denied, 1 would have been denied in enforce mode (arguments_out_of_scope 1); longest task 62 s`);
    expect(r.out).toContain('Over-grant\n  tool fs.delete: granted, never called\n');
    expect(r.out).toContain("  tool fs.read, argument path: granted pathWithin '/srv'; used 2 call(s): paths under /srv/data/reports; advised pathWithin '/srv/data/reports'\n");
    expect(r.out).toContain("  tool tickets.read, argument id: granted in ['4711', '4712', '4713']; used 1 call(s): strings of at most 4 characters, at most 1 distinct in one capability; advised eq '4712'\n");
    expect(r.out).toContain('  tool web.get: maxCalls 20 granted, at most 1 used in one intent (advised 2)\n');
    expect(r.out).toContain('  ttl 60 min granted, longest task 62 s (advised 93 s)\n');
    expect(r.out).toContain('Agent spiffe://example.org/agents/other, purpose "Other work"\n');
    expect(r.out).toContain('  No grant given for these calls (--grant): the advice is from the evidence alone.\n');
  });

  test('a directory reads its files; JSON output carries the grants and findings', async () => {
    const r = await h.run(['advise', '--format', 'json', '--grant', 'recorded.json', 'spans']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { calls: number; groups: { agent: string; grant: { tools: Record<string, unknown> }; overGrant: string[] }[] };
    expect(out.calls).toBe(6);
    const mine = out.groups.find((g) => g.agent === AGENT)!;
    expect(mine.grant).toEqual({
      issuer: 'https://authz.example.com',
      agent: AGENT,
      audience: 'support-app',
      intent: { id: 'ticket-1', purpose: PURPOSE },
      ttl: 93,
      tools: {
        'fs.read': { args: { path: { pathWithin: '/srv/data/reports' } }, maxCalls: 3 },
        'tickets.read': { args: { id: { eq: '4712' } }, maxCalls: 2 },
        'web.get': { args: { url: { hostIn: ['api.example.com'] } }, maxCalls: 2 },
      },
    });
    expect(mine.overGrant).toHaveLength(8);
  });

  test('the grant file it writes is one "tessera grant" signs, and within the grant policy whose ceiling is the recorded grant', async () => {
    const only = { ...RECORDED };
    writeFileSync(join(h.dir, 'mine.json'), JSON.stringify(only));
    const r = await h.run(['advise', '--grant', 'mine.json', '--out', 'advised', 'one.json']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^Wrote advised\/01-other-other-work\.json, advised\/02-support-answer-support-tickets\.json\n/);
    const file = join('advised', '02-support-answer-support-tickets.json');
    const advised = JSON.parse(readFileSync(join(h.dir, file), 'utf8')) as { tools: Record<string, never>; ttl: number };
    expect((await h.run(['keys', 'generate', '--out', 'key.json'])).code).toBe(0);
    const signed = await h.run(['grant', '--key', 'key.json', file]);
    expect(signed.err).toBe('');
    expect(signed.code).toBe(0);
    const claims = decodeJwt(signed.out.trim());
    expect(claims.tools).toEqual(advised.tools);
    expect(claims.sub).toBe(AGENT);
    expect((claims.exp as number) - (claims.iat as number)).toBe(93);

    const policy = compileGrantPolicy({ roles: [{ name: 'support', match: [{ spiffe: AGENT }], ceiling: { tools: RECORDED.tools, maxTtl: RECORDED.ttl as '1h' } }] });
    const [role] = policy.rolesOf({ id: AGENT, trustDomain: 'example.org', source: 'jwt-svid' });
    expect(role!.outsideCeiling(advised.tools)).toBeUndefined();
    expect(advised.ttl).toBeLessThanOrEqual(role!.maxTtlSec);
    // The recorded grant itself is the ceiling; something wider is outside it.
    expect(role!.outsideCeiling({ 'fs.read': { args: { path: { pathWithin: '/' } } } })).toMatch(/outside the ceiling/);
  });

  test('one group writes one file; an existing file needs --force', async () => {
    writeFileSync(join(h.dir, 'single.json'), await otlpJsonOf(guardSpans(CALLS.slice(0, 2))));
    expect((await h.run(['advise', '--audience', 'support-app', '--out', 'single-grant.json', 'single.json'])).code).toBe(0);
    const grant = JSON.parse(readFileSync(join(h.dir, 'single-grant.json'), 'utf8')) as Record<string, unknown>;
    expect(grant).toEqual({
      agent: AGENT,
      audience: 'support-app',
      intent: { id: 'next-task', purpose: PURPOSE },
      ttl: 90,
      tools: { 'fs.read': { args: { path: { pathWithin: '/srv/data/reports' } }, maxCalls: 3 } },
    });
    expect(await h.run(['advise', '--out', 'single-grant.json', 'single.json'])).toMatchObject({ code: 1, err: 'tessera advise: single-grant.json already exists; pass --force to replace it\n' });
    const forced = await h.run(['advise', '--force', '--out', 'single-grant.json', 'single.json']);
    expect(forced.code).toBe(0);
    expect(forced.err).toContain('The advised grant names no audience: pass --audience or a --grant that names one before "tessera grant".\n');
  });

  test('input that is not OTLP JSON, and bad options, fail clearly', async () => {
    writeFileSync(join(h.dir, 'junk.json'), 'hello');
    writeFileSync(join(h.dir, 'other.json'), '{"foo": [1, 2]}');
    writeFileSync(join(h.dir, 'cut.json'), '{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x"');
    expect(await h.run(['advise', 'junk.json'])).toMatchObject({ code: 1, err: 'tessera advise: spans file junk.json: expected OTLP JSON (an object, an array of them, or one per line) at byte 0\n' });
    expect(await h.run(['advise', 'other.json'])).toMatchObject({ code: 1, err: 'tessera advise: spans file other.json: expected "resourceSpans" (OTLP JSON trace export) at byte 14\n' });
    expect(await h.run(['advise', 'cut.json'])).toMatchObject({ code: 1, err: 'tessera advise: spans file cut.json: the JSON ends before it is complete at byte 58\n' });
    expect(await h.run(['advise', 'missing.json'])).toMatchObject({ code: 1, err: 'tessera advise: spans file missing.json: no such file or directory\n' });
    expect(await h.run(['advise', '--format', 'xml', 'one.json'])).toMatchObject({ code: 2, err: 'tessera advise: --format must be text or json\n' });
    expect(await h.run(['advise', '--margin', '-1', 'one.json'])).toMatchObject({ code: 2 });
    writeFileSync(join(h.dir, 'bad-grant.json'), JSON.stringify({ tools: { 'fs.read': { args: { path: { pathWithin: 'relative' } } } } }));
    const bad = await h.run(['advise', '--grant', 'bad-grant.json', 'one.json']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^tessera advise: grant spec bad-grant\.json: grant\.tools\["fs\.read"\]\.args\.path\.pathWithin: pathWithin must be an absolute, normalized POSIX path/);
  });
});

describe('tessera audit: the advice section of the page', () => {
  test('per agent and purpose: tools used, over-grant findings and the advised grant, every value escaped', async () => {
    const hostile = '<img src=x onerror="alert(1)">';
    writeFileSync(join(h.dir, 'hostile.json'), await otlpJsonOf(guardSpans([...CALLS, { tool: 'fs.read', args: { path: '/srv/x' }, purpose: hostile, intent: 'ticket-9' }])));
    const r = await h.run(['audit', '--grant', 'recorded.json', '--html', 'page.html', 'hostile.json']);
    expect(r.code).toBe(0);
    const page = readFileSync(join(h.dir, 'page.html'), 'utf8');
    const section = page.slice(page.indexOf('<h2>Least-privilege advice</h2>'), page.indexOf('<h2>Calls</h2>'));
    expect(section).toContain(`<h3><span class="agent">${AGENT}</span> <span class="intent">purpose ${PURPOSE}</span></h3>`);
    expect(section).toContain('<b class="deny">1 would have been denied in enforce mode</b> (arguments_out_of_scope 1)');
    expect(section).toContain('<li>tool fs.delete: granted, never called</li>');
    expect(section).toContain('<li>tool fs.read, argument path: granted pathWithin &#39;/srv&#39;; used 2 call(s): paths under /srv/data/reports; advised pathWithin &#39;/srv/data/reports&#39;</li>');
    expect(section).toContain('&quot;pathWithin&quot;: &quot;/srv/data/reports&quot;');
    expect(section).toContain('purpose &lt;img src=x onerror=&quot;alert(1)&quot;&gt;</span>');
    expect(page).not.toContain(hostile);
  });

  test('spans without evidence and no grant: no advice section', async () => {
    writeFileSync(join(h.dir, 'bare.json'), await otlpJsonOf(guardSpans([{ tool: 'fs.read', args: { path: '/srv/x' }, evidence: false }])));
    expect((await h.run(['audit', '--html', 'bare.html', 'bare.json'])).code).toBe(0);
    expect(readFileSync(join(h.dir, 'bare.html'), 'utf8')).not.toContain('Least-privilege advice');
  });
});
