import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runOtlpExample } from '../../examples/otlp.js';
import { parseOtlpJson, type AuditSpan } from '../../src/cli/audit/otlp-json.js';
import { EVENT, SPAN_ATTRIBUTES } from '../../src/telemetry/attributes.js';
import { cliHarness, type CliHarness } from '../cli/support.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

let receiver: OtlpReceiver;
let spans: AuditSpan[];
const log: string[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  await runOtlpExample({ endpoint: receiver.endpoint, serviceName: 'otlp-test', log: (l) => log.push(l) });
  spans = (receiver.raw.get('/v1/traces') ?? []).flatMap(parseOtlpJson);
});
afterAll(() => receiver.stop());

const byTool = (tool: string) => spans.filter((s) => s.attributes.get('gen_ai.tool.name') === tool);

describe('OTLP/HTTP export of guard spans (examples/otlp.ts against a receiver on 127.0.0.1)', () => {
  test('the example ran its four calls', () => {
    expect(log).toEqual([
      'read ticket 4711: allowed',
      'read ticket 4712: denied (arguments_out_of_scope)',
      'email the customer: allowed',
      'email them again: denied (call_limit_exceeded)',
    ]);
  });

  test('arrives as OTLP JSON with the service name on the resource', () => {
    expect([...receiver.contentTypes]).toEqual(['application/json']);
    const request = receiver.received.get('/v1/traces')?.[0] as { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] } }[] };
    const resource = request.resourceSpans[0]!.resource.attributes;
    expect(resource.find((a) => a.key === 'service.name')?.value.stringValue).toBe('otlp-test');
  });

  test('one execute_tool span per call with the decision, and the denial code and standards on denials', () => {
    expect(spans.map((s) => s.name)).toEqual(['execute_tool tickets.read', 'execute_tool tickets.read', 'execute_tool email.send', 'execute_tool email.send']);
    const [allowed, denied] = byTool('tickets.read');
    expect(Object.fromEntries(allowed!.attributes)).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.type': 'function',
      'gen_ai.agent.id': 'spiffe://example.org/agents/support',
      'tessera.intent.id': 'ticket-4711',
      'tessera.decision': 'allow',
      'tessera.risk': 'read',
      'tessera.delegation.depth': 0,
      'tessera.credential.type': expect.any(String),
    });
    expect(allowed!.attributes.has('tessera.denial.code')).toBe(false);
    // A denial is the guard answering no, not a failure of the call: no error.type on it.
    expect(denied!.attributes.has('error.type')).toBe(false);
    expect(Object.fromEntries(denied!.attributes)).toMatchObject({
      'tessera.decision': 'deny',
      'tessera.denial.code': 'arguments_out_of_scope',
      'tessera.standards': ['ASI02', 'T2', 'L3', 'GOVERN 1.4'],
    });
  });

  test('the approval and the side effect are on the email span', () => {
    const [sent, limited] = byTool('email.send');
    expect(sent!.attributes.get('tessera.approval.decision')).toBe('approved');
    expect(sent!.attributes.get('tessera.approval.approver')).toBe('oncall@example.com');
    expect(sent!.events.map((e) => [e.name, e.attributes.get(EVENT.SIDE_EFFECT_KIND), e.attributes.get(`${EVENT.SIDE_EFFECT}.domain`)])).toEqual([
      ['tessera.side_effect', 'email.sent', 'example.com'],
    ]);
    expect(limited!.attributes.get('tessera.denial.code')).toBe('call_limit_exceeded');
  });

  test('every attribute sent is one the schema documents', () => {
    const documented = new Set(SPAN_ATTRIBUTES.map((a) => a.key));
    const sent = new Set(spans.flatMap((s) => [...s.attributes.keys()]));
    expect([...sent].filter((k) => !documented.has(k))).toEqual([]);
  });

  test('no token, credential or raw argument is exported', () => {
    const all = (receiver.raw.get('/v1/traces') ?? []).join('\n');
    // Every Tessera token is a compact JWS whose header starts with {"  → base64url "eyJ".
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
    expect(all).not.toContain('ann@example.com');
    expect(all).not.toContain('Fixed.');
  });

  test('the decision metric arrives too', () => {
    const metrics = (receiver.raw.get('/v1/metrics') ?? []).join('\n');
    expect(metrics).toContain('"tessera.guard.decisions"');
    expect(metrics).toContain('"tessera.guard.overhead"');
  });
});

describe('tessera audit over what the receiver got', () => {
  let h: CliHarness;
  beforeAll(() => {
    h = cliHarness();
    writeFileSync(join(h.dir, 'spans.jsonl'), (receiver.raw.get('/v1/traces') ?? []).map((t) => JSON.stringify(JSON.parse(t))).join('\n'));
  });
  afterAll(() => h.cleanup());

  test('prints per intent and per agent, and writes a self-contained HTML timeline', async () => {
    const r = await h.run(['audit', '--html', 'audit.html', 'spans.jsonl']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('Wrote audit.html\n');
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^4 guarded call\(s\) from \S+ to \S+: 2 allowed \(1 after approval\), 2 denied, 0 tool error\(s\)$/);
    expect(r.out).toContain(
      [
        'Per intent',
        '  intent       allowed  denied  approved  tool errors  denied by code',
        '  ticket-4711  2        2       1         0            arguments_out_of_scope 1, call_limit_exceeded 1',
      ].join('\n'),
    );
    expect(r.out).toContain('  spiffe://example.org/agents/support  2        2       1         0            arguments_out_of_scope 1, call_limit_exceeded 1');
    const html = readFileSync(join(h.dir, 'audit.html'), 'utf8');
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
    expect(html).not.toMatch(/<script|<link|src=/);
    expect(html.match(/class="mark (allow|deny|error)" style="left:/g)).toHaveLength(4);
    expect(html).toContain('denied: call_limit_exceeded');
    expect(html).toContain('allowed after approval by oncall@example.com');
  });
});
