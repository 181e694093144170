import { SpanKind, SpanStatusCode, trace, context } from '@opentelemetry/api';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { setup } from '../support/fixtures.js';
import { createSpanCapture } from '../support/otel.js';
import { guardTool } from '../../src/index.js';

const capture = createSpanCapture();
afterEach(() => capture.reset());

describe('one span per call', () => {
  test('an allowed call: execute_tool span with GenAI and tessera attributes and side effects', async () => {
    const { guard, sendEmail, grant } = await setup({ telemetry: { tracer: capture.tracer } });
    const cap = await grant();
    await guard.withCapability(cap, () => sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }, { callId: 'call_42' }));
    const [span] = await capture.spans();
    expect(span!.name).toBe('execute_tool email.send');
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'email.send',
      'gen_ai.tool.call.id': 'call_42',
      'gen_ai.tool.description': 'Send an email',
      'gen_ai.tool.type': 'function',
      'gen_ai.agent.id': 'spiffe://example.org/agents/support',
      'tessera.decision': 'allow',
      'tessera.intent.id': 'ticket-4711',
      'tessera.risk': 'write',
      'tessera.delegation.depth': 0,
      'tessera.identity.source': 'asserted',
      'tessera.credential.type': 'tessera-call+jwt',
    });
    expect(span!.attributes['tessera.capability.id']).toMatch(/^[\w-]{21}$/);
    expect(span!.attributes['tessera.credential.id']).toMatch(/^[\w-]{22}$/);
    expect(span!.attributes['tessera.args.sha256']).toMatch(/^[\w-]{43}$/);
    expect(span!.attributes['tessera.guard.overhead_us']).toBeGreaterThan(0);
    expect(span!.attributes).not.toHaveProperty('error.type');
    expect(span!.attributes).not.toHaveProperty('gen_ai.tool.call.arguments');
    expect(span!.events.map((e) => [e.name, e.attributes])).toEqual([
      ['tessera.side_effect', { 'tessera.side_effect.kind': 'email.sent', 'tessera.side_effect.to': 'a@example.com' }],
    ]);
  });

  test('a denied call: the code, reason and standards; a denial is not an error of the call', async () => {
    const { guard, readTicket, grant } = await setup({ telemetry: { tracer: capture.tracer } });
    await guard.withCapability(await grant(), () => readTicket({ ticketId: '9999' })).catch(() => {});
    const [span] = await capture.spans();
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.attributes).not.toHaveProperty('error.type');
    expect(span!.attributes).toMatchObject({
      'tessera.decision': 'deny',
      'tessera.denial.code': 'arguments_out_of_scope',
      'tessera.standards': ['ASI02', 'T2', 'L3', 'GOVERN 1.4'],
    });
    expect(span!.attributes['tessera.denial.reason']).toContain('ticketId must equal "4711"');
  });

  test('a tool that throws: decision error and error.type is the exception class', async () => {
    const { guard, grant } = await setup({ telemetry: { tracer: capture.tracer } });
    const t = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read' }, () => {
      throw new TypeError('secret-in-message');
    });
    await guard.withCapability(await grant(), () => t({ ticketId: '4711' })).catch(() => {});
    const [span] = await capture.spans();
    expect(span!.attributes).toMatchObject({ 'tessera.decision': 'error', 'error.type': 'TypeError' });
    expect(JSON.stringify(span!.events)).not.toContain('secret-in-message');
  });

  test('spans the tool creates are children of the guard span', async () => {
    const { guard, grant } = await setup({ telemetry: { tracer: capture.tracer } });
    const t = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read' }, () => {
      capture.tracer.startSpan('downstream.http').end();
    });
    await guard.withCapability(await grant(), () => t({ ticketId: '4711' }));
    const spans = await capture.spans();
    const child = spans.find((s) => s.name === 'downstream.http')!;
    const parent = spans.find((s) => s.name === 'execute_tool tickets.read')!;
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
  });

  test('enrich mode adds attributes to a framework span instead of nesting a second one', async () => {
    const { guard, readTicket, grant } = await setup({ telemetry: { tracer: capture.tracer, spanMode: 'enrich' } });
    const cap = await grant();
    const outer = capture.tracer.startSpan('execute_tool tickets.read');
    await context.with(trace.setSpan(context.active(), outer), () => guard.withCapability(cap, () => readTicket({ ticketId: '4711' })));
    outer.end();
    const spans = await capture.spans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes).toMatchObject({ 'tessera.decision': 'allow', 'gen_ai.tool.name': 'tickets.read' });
  });

  test('raw arguments are recorded only with recordArguments', async () => {
    const { guard, readTicket, grant } = await setup({ telemetry: { tracer: capture.tracer, recordArguments: true } });
    await guard.withCapability(await grant(), () => readTicket({ ticketId: '4711' }));
    const [span] = await capture.spans();
    expect(span!.attributes['gen_ai.tool.call.arguments']).toBe('{"ticketId":"4711"}');
  });
});

describe('nothing secret leaks', () => {
  test('no capability, credential, signature or key material in any exported span attribute or event', async () => {
    const { guard, sendEmail, readTicket, grant, authority } = await setup({ telemetry: { tracer: capture.tracer } });
    const cap = await grant();
    const credentials: string[] = [];
    const leaky = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read' }, (_a, ctx) => {
      credentials.push(ctx.credential.token);
    });
    await guard.withCapability(cap, async () => {
      await leaky({ ticketId: '4711' });
      await sendEmail({ to: 'a@example.com', subject: 's', body: 'hunter2-body' });
      await sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }).catch(() => {});
      await readTicket({ ticketId: '1' }).catch(() => {});
      await readTicket({ ticketId: '4711' }, { capability: `${cap}x` }).catch(() => {});
    });
    const spans = await capture.spans();
    expect(spans.length).toBe(5);
    const exported = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
    const secrets = [
      cap,
      ...cap.split('.'),
      ...credentials,
      ...credentials.flatMap((c) => c.split('.').slice(1)),
      'hunter2-body',
      ...authority.jwks().keys.map((k) => String(k.x)),
      JSON.stringify(guard.credentialJwks().keys[0]!.x),
    ];
    for (const secret of secrets) expect(exported).not.toContain(secret);
  });
});

describe('metrics', () => {
  test('a decisions counter by outcome and code, and a guard overhead histogram', async () => {
    const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
    class TestReader extends MetricReader {
      protected override async onForceFlush(): Promise<void> {}
      protected override async onShutdown(): Promise<void> {}
    }
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const { guard, readTicket, grant } = await setup({ telemetry: { meter: meterProvider.getMeter('tessera') } });
    const cap = await grant();
    await guard.withCapability(cap, async () => {
      await readTicket({ ticketId: '4711' });
      await readTicket({ ticketId: '4711' });
      await readTicket({ ticketId: 'nope' }).catch(() => {});
    });
    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const decisions = metrics.find((m) => m.descriptor.name === 'tessera.guard.decisions')!;
    const points = decisions.dataPoints.map((p) => [p.attributes['tessera.decision'], p.attributes['tessera.denial.code'], p.value]);
    expect(points).toEqual(
      expect.arrayContaining([
        ['allow', undefined, 2],
        ['deny', 'arguments_out_of_scope', 1],
      ]),
    );
    const overhead = metrics.find((m) => m.descriptor.name === 'tessera.guard.overhead')!;
    expect(overhead.descriptor.unit).toBe('s');
    const allowPoint = overhead.dataPoints.find((p) => p.attributes['tessera.decision'] === 'allow')!;
    expect((allowPoint.value as { count: number }).count).toBe(2);
    await meterProvider.shutdown();
  });
});
