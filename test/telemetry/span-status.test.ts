import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createMemoryStore, type CredentialProvider, type GuardOptions, type PolicyEngine, guardTool } from '../../src/index.js';
import { GUARD_FAILURE_CODES, isOperationError } from '../../src/telemetry/recorder.js';
import { setup } from '../support/fixtures.js';
import { createSpanCapture } from '../support/otel.js';

// The real SDK (NodeTracerProvider, in-memory exporter). A denial is the guard answering "no",
// like an HTTP server answering 403: the span's status stays UNSET. Only a guard that could not
// decide (a dependency failed) or a tool that threw is an error of the operation.

const capture = createSpanCapture();
afterEach(() => capture.reset());

async function oneSpan(overrides: Partial<GuardOptions>, args: { ticketId: string } = { ticketId: '4711' }): Promise<{ span: ReadableSpan; code: unknown }> {
  const { guard, readTicket, grant } = await setup({ telemetry: { tracer: capture.tracer }, ...overrides });
  const err = await guard.withCapability(await grant(), () => readTicket(args)).then(
    () => undefined,
    (e: { code?: unknown }) => e,
  );
  const spans = await capture.spans();
  expect(spans).toHaveLength(1);
  return { span: spans[0]!, code: err?.code };
}

const denyAll: PolicyEngine = { name: 'no', evaluate: () => ({ effect: 'deny', policyIds: ['no'], reason: 'never' }) };

describe('span status: a denial is not an error, a guard failure is', () => {
  test('an allowed call: UNSET, no error.type', async () => {
    const { span, code } = await oneSpan({});
    expect(code).toBeUndefined();
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(span.attributes).not.toHaveProperty('error.type');
  });

  test.each([
    ['arguments_out_of_scope', {}, { ticketId: '9999' }],
    ['policy_denied', { policy: denyAll }, undefined],
    ['capability_missing', {}, undefined],
  ] as const)('a denial (%s): UNSET, no error.type, the code in tessera.denial.code', async (expected, overrides, args) => {
    let result: { span: ReadableSpan; code: unknown };
    if (expected === 'capability_missing') {
      const { readTicket } = await setup({ telemetry: { tracer: capture.tracer } });
      const err = await readTicket({ ticketId: '4711' }).catch((e: { code?: unknown }) => e);
      result = { span: (await capture.spans())[0]!, code: (err as { code?: unknown }).code };
    } else {
      result = await oneSpan(overrides, args);
    }
    expect(result.code).toBe(expected);
    expect(result.span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(result.span.attributes).not.toHaveProperty('error.type');
    expect(result.span.attributes).toMatchObject({ 'tessera.decision': 'deny', 'tessera.denial.code': expected });
  });

  const failingStore = { ...createMemoryStore(), reserve: () => Promise.reject(new Error('connection lost')) };
  const failingProvider: CredentialProvider = {
    mint() {
      throw new Error('vault sealed');
    },
    revoke() {},
  };
  const failingEngine: PolicyEngine = {
    name: 'broken',
    evaluate() {
      throw new Error('engine crashed');
    },
  };
  test.each([
    ['store_unavailable', { store: failingStore }],
    ['credential_unavailable', { credentials: { provider: failingProvider } }],
    ['policy_error', { policy: failingEngine }],
  ] as const)('a guard failure (%s): ERROR with error.type the code', async (expected, overrides) => {
    const { span, code } = await oneSpan(overrides as Partial<GuardOptions>);
    expect(code).toBe(expected);
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: expected });
    expect(span.attributes).toMatchObject({ 'tessera.decision': 'deny', 'tessera.denial.code': expected, 'error.type': expected });
  });

  test('an unreachable identity verifier (identity_unavailable): ERROR with error.type the code', async () => {
    const { guard, readTicket, grant } = await setup({
      telemetry: { tracer: capture.tracer },
      identity: { verify: () => Promise.reject(new Error('ECONNREFUSED')) },
    });
    const err = await guard.withCapability({ capability: await grant(), identity: 'x.y.z' }, () => readTicket({ ticketId: '4711' })).catch((e: { code?: unknown }) => e);
    expect((err as { code?: unknown }).code).toBe('identity_unavailable');
    const [span] = await capture.spans();
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'identity_unavailable' });
    expect(span!.attributes['error.type']).toBe('identity_unavailable');
  });

  test('a tool that throws: ERROR with error.type the exception class, and its exception event', async () => {
    const { guard, grant } = await setup({ telemetry: { tracer: capture.tracer } });
    const t = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read' }, () => {
      throw new RangeError('not shown');
    });
    await expect(guard.withCapability(await grant(), () => t({ ticketId: '4711' }))).rejects.toBeInstanceOf(RangeError);
    const [span] = await capture.spans();
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'RangeError' });
    expect(span!.attributes).toMatchObject({ 'tessera.decision': 'error', 'error.type': 'RangeError' });
    expect(span!.events.map((e) => [e.name, e.attributes?.['exception.type']])).toEqual([['exception', 'RangeError']]);
  });

  test('the rule, as a function: exactly the guard failures and tool errors', () => {
    expect([...GUARD_FAILURE_CODES].sort()).toEqual(['credential_unavailable', 'decision_log_unavailable', 'identity_unavailable', 'policy_error', 'store_unavailable']);
    expect(isOperationError('error', undefined)).toBe(true);
    expect(isOperationError('deny', 'store_unavailable')).toBe(true);
    expect(isOperationError('deny', 'approval_denied')).toBe(false);
    expect(isOperationError('allow', undefined)).toBe(false);
  });
});

describe('the span is handed to the SDK once, with the call’s own timing', () => {
  test('a call that waited 40 ms before it was denied has a span of at least 40 ms', async () => {
    const slow: PolicyEngine = {
      name: 'slow',
      evaluate: () => new Promise((resolve) => setTimeout(() => resolve({ effect: 'deny', policyIds: ['slow'], reason: 'slow no' }), 40)),
    };
    const { span } = await oneSpan({ policy: slow });
    const ms = span.duration[0] * 1e3 + span.duration[1] / 1e6;
    expect(ms).toBeGreaterThanOrEqual(39);
    expect(ms).toBeLessThan(5000);
  });

  test('attributes and events written by the tool through the active span reach the exported span', async () => {
    const { guard, grant } = await setup({ telemetry: { tracer: capture.tracer } });
    const t = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read' }, () => {
      const active = trace.getActiveSpan()!;
      active.setAttribute('app.rows', 3);
      active.addEvent('app.cache_miss', { 'app.key': 'k' });
      // Ending early is not the tool's to do: the guard ends the span when the call ends.
      active.end();
      active.setAttribute('app.after_end', true);
    });
    await guard.withCapability(await grant(), () => t({ ticketId: '4711' }));
    const [span] = await capture.spans();
    expect(span!.attributes).toMatchObject({ 'app.rows': 3, 'app.after_end': true, 'tessera.decision': 'allow' });
    expect(span!.events.map((e) => [e.name, e.attributes])).toEqual([['app.cache_miss', { 'app.key': 'k' }]]);
  });

  test('a child span started inside the tool gets the guard span as parent, and the guard span keeps every attribute', async () => {
    const { guard, grant } = await setup({ telemetry: { tracer: capture.tracer } });
    const t = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read' }, (_a, ctx) => {
      capture.tracer.startSpan('downstream.http').end();
      ctx.sideEffect('ticket.read', { id: '4711' });
    });
    await guard.withCapability(await grant(), () => t({ ticketId: '4711' }));
    const spans = await capture.spans();
    const child = spans.find((s) => s.name === 'downstream.http')!;
    const parent = spans.find((s) => s.name === 'execute_tool tickets.read')!;
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(parent.attributes).toMatchObject({
      'gen_ai.tool.name': 'tickets.read',
      'tessera.intent.id': 'ticket-4711',
      'tessera.credential.type': 'tessera-call+jwt',
      'tessera.decision': 'allow',
    });
    expect(parent.events.map((e) => e.name)).toEqual(['tessera.side_effect']);
    const startMs = parent.startTime[0] * 1e3 + parent.startTime[1] / 1e6;
    const childStartMs = child.startTime[0] * 1e3 + child.startTime[1] / 1e6;
    expect(startMs).toBeLessThanOrEqual(childStartMs);
  });
});
