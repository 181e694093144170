import { PassThrough } from 'node:stream';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { bindingOf, createScriptedApprover, createTerminalApprover, previewArguments } from '../../src/policy/approvers.js';
import { ATTR } from '../../src/telemetry/index.js';
import {
  type ApprovalRequest,
  type Approver,
  type GuardOptions,
  guardTool,
} from '../../src/index.js';
import { setup } from '../support/fixtures.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
afterEach(() => exporter.reset());

const SECRET = 'sk-live-0123456789abcdef';

/** The default policy (risk baseline): an external tool needs a human. */
async function world(options: Partial<GuardOptions>) {
  const s = await setup({ telemetry: { tracer: provider.getTracer('test') }, ...options });
  const notify = guardTool(
    s.guard,
    { name: 'customer.notify', description: 'Mail a customer', input: z.object({ to: z.string(), text: z.string(), apiKey: z.string().optional() }), risk: 'external' },
    async (args) => {
      s.ran.push(`notify:${args.to}:${args.text}`);
      return 'sent';
    },
  );
  const cap = await s.grant({ tools: { 'customer.notify': {}, 'tickets.read': {} } });
  return { ...s, notify, cap };
}

const lastSpan = async () => {
  await provider.forceFlush();
  const spans = exporter.getFinishedSpans();
  return spans[spans.length - 1]!;
};

describe('human approval', () => {
  test('approved: the tool runs, and the decision, approver and wait time are on the span', async () => {
    const approver = createScriptedApprover(['approve'], { approver: 'alice@example.com' });
    const { notify, cap, ran } = await world({ approver });
    await expect(notify({ to: 'c@x.org', text: 'hi' }, { capability: cap })).resolves.toBe('sent');
    expect(ran).toEqual(['notify:c@x.org:hi']);
    const span = await lastSpan();
    expect(span.attributes[ATTR.APPROVAL_DECISION]).toBe('approved');
    expect(span.attributes[ATTR.APPROVAL_APPROVER]).toBe('alice@example.com');
    expect(typeof span.attributes[ATTR.APPROVAL_WAIT_MS]).toBe('number');
    expect(span.attributes[ATTR.POLICY_EFFECT]).toBe('require_approval');
  });

  test('the approver sees who, what, why and a redacted preview, never the secret', async () => {
    const approver = createScriptedApprover(['approve']);
    const { notify, cap } = await world({ approver });
    await notify({ to: 'c@x.org', text: 'hi', apiKey: SECRET }, { capability: cap });
    const req = approver.requests[0]!;
    expect(req).toMatchObject({ agent: 'spiffe://example.org/agents/support', tool: 'customer.notify', risk: 'external', intent: { purpose: 'Answer ticket 4711' } });
    expect(req.why).toContain('external action');
    expect(req.argsPreview).toEqual({ to: 'c@x.org', text: 'hi', apiKey: '[redacted]' });
    expect(JSON.stringify(req)).not.toContain(SECRET);
    const span = await lastSpan();
    expect(JSON.stringify(span.attributes)).not.toContain(SECRET);
  });

  test('denied: approval_denied, the tool never runs, the approver is on the span', async () => {
    const approver = createScriptedApprover(['deny'], { approver: 'bob' });
    const { notify, cap, ran } = await world({ approver });
    await expect(notify({ to: 'c@x.org', text: 'hi' }, { capability: cap })).rejects.toMatchObject({ code: 'approval_denied', reason: 'the approver refused: denied by the approval script' });
    expect(ran).toEqual([]);
    const span = await lastSpan();
    expect(span.attributes[ATTR.APPROVAL_DECISION]).toBe('denied');
    expect(span.attributes[ATTR.APPROVAL_APPROVER]).toBe('bob');
  });

  test('no answer before the deadline: approval_timeout', async () => {
    const approver = createScriptedApprover(['hang']);
    const { notify, cap, ran } = await world({ approver, approvalTimeoutMs: 40 });
    const started = performance.now();
    await expect(notify({ to: 'c@x.org', text: 'hi' }, { capability: cap })).rejects.toMatchObject({ code: 'approval_timeout', reason: 'no approver answered within 40 ms' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
    expect(ran).toEqual([]);
    expect((await lastSpan()).attributes[ATTR.APPROVAL_DECISION]).toBe('timeout');
  });

  test('an approver that throws denies', async () => {
    const approver: Approver = () => {
      throw new Error(`approval service down, key ${SECRET}`);
    };
    const { notify, cap, ran } = await world({ approver });
    const err = await notify({ to: 'c@x.org', text: 'hi' }, { capability: cap }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'approval_denied' });
    expect(String((err as Error).message)).not.toContain(SECRET);
    expect(ran).toEqual([]);
  });

  test('no approver configured: a call that needs approval is denied', async () => {
    const { notify, cap, ran } = await world({});
    await expect(notify({ to: 'c@x.org', text: 'hi' }, { capability: cap })).rejects.toMatchObject({ code: 'approval_denied' });
    expect(ran).toEqual([]);
  });

  test('an approval id is single use: replayed for another call it is refused', async () => {
    // An approval system that hands back the same approval (ticket APR-1) twice.
    const approver: Approver = () => ({ approved: true, approver: 'alice', id: 'APR-1' });
    const { notify, cap, ran } = await world({ approver });
    await expect(notify({ to: 'c@x.org', text: 'first' }, { capability: cap })).resolves.toBe('sent');
    await expect(notify({ to: 'c@x.org', text: 'second' }, { capability: cap })).rejects.toMatchObject({
      code: 'approval_denied',
      reason: 'this approval was already used for another call; each approval covers one call, ask again',
    });
    expect(ran).toEqual(['notify:c@x.org:first']);
    expect((await lastSpan()).attributes[ATTR.APPROVAL_DECISION]).toBe('replayed');
  });

  test('an approval bound to another call (other arguments) is refused', async () => {
    let first: ReturnType<typeof bindingOf> | undefined;
    const approver: Approver = (req: ApprovalRequest) => {
      first ??= bindingOf(req);
      return { approved: true, approver: 'alice', binding: first };
    };
    const { notify, cap, ran } = await world({ approver });
    await expect(notify({ to: 'c@x.org', text: 'harmless' }, { capability: cap })).resolves.toBe('sent');
    await expect(notify({ to: 'c@x.org', text: 'harmful' }, { capability: cap })).rejects.toMatchObject({ code: 'approval_denied' });
    expect(ran).toEqual(['notify:c@x.org:harmless']);
    expect((await lastSpan()).attributes[ATTR.APPROVAL_DECISION]).toBe('mismatch');
  });

  test('an approval bound to another capability is refused', async () => {
    let first: ReturnType<typeof bindingOf> | undefined;
    const approver: Approver = (req) => {
      first ??= bindingOf(req);
      return { approved: true, binding: first };
    };
    const { notify, cap, grant, ran } = await world({ approver });
    await notify({ to: 'c@x.org', text: 'same' }, { capability: cap });
    const other = await grant({ tools: { 'customer.notify': {} } });
    await expect(notify({ to: 'c@x.org', text: 'same' }, { capability: other })).rejects.toMatchObject({ code: 'approval_denied' });
    expect(ran).toEqual(['notify:c@x.org:same']);
  });

  test('a script that runs out denies rather than approves', async () => {
    const approver = createScriptedApprover(['approve']);
    const { notify, cap, ran } = await world({ approver });
    await notify({ to: 'c@x.org', text: 'one' }, { capability: cap });
    await expect(notify({ to: 'c@x.org', text: 'two' }, { capability: cap })).rejects.toMatchObject({ code: 'approval_denied' });
    expect(ran).toEqual(['notify:c@x.org:one']);
  });

  test('a read tool does not ask for approval under the baseline', async () => {
    const approver = createScriptedApprover([]);
    const { readTicket, cap } = await world({ approver });
    await expect(readTicket({ ticketId: '4711' }, { capability: cap })).resolves.toMatchObject({ id: '4711' });
    expect(approver.requests).toHaveLength(0);
  });
});

describe('terminal approver', () => {
  const ask = async (typed: string) => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (c: Buffer) => {
      shown += c.toString();
    });
    const approver = createTerminalApprover({ input, output, approver: 'terminal:test' });
    const { notify, cap, ran } = await world({ approver });
    output.once('data', () => setImmediate(() => input.write(`${typed}\n`)));
    const result = await notify({ to: 'c@x.org', text: 'hi', apiKey: SECRET }, { capability: cap }).catch((e: unknown) => e);
    return { result, shown, ran };
  };

  test('typing y approves', async () => {
    const { result, shown, ran } = await ask('y');
    expect(result).toBe('sent');
    expect(ran).toEqual(['notify:c@x.org:hi']);
    expect(shown).toContain('Approval needed: customer.notify (external)');
    expect(shown).not.toContain(SECRET);
  });

  test('anything else denies', async () => {
    const { result, ran } = await ask('sure');
    expect(result).toMatchObject({ code: 'approval_denied' });
    expect(ran).toEqual([]);
  });
});

test('previewArguments masks nested secrets and token-looking values', () => {
  const p = previewArguments({ config: { password: 'hunter2', user: 'u' }, note: 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.sig', long: 'x'.repeat(500) });
  expect(p.config).toBe('{"password":"[redacted]","user":"u"}');
  expect(p.note).toBe('[redacted]');
  expect(p.long).toHaveLength(120);
});

describe('terminal approval prompt and model-supplied arguments', () => {
  test('control characters in an argument cannot rewrite the question a person sees', async () => {
    const { describeApprovalRequest } = await import('../../src/policy/terminal-approver.js');
    const { previewArguments } = await import('../../src/policy/approval.js');
    // ESC sequences move the cursor up and erase lines; a newline starts a fake field.
    const to = 'attacker@evil.test\x1b[1A\x1b[2K\x1b[1A\x1b[2K\n  why:     routine read-only lookup\r';
    const text = describeApprovalRequest({
      agent: 'spiffe://example.org/agents/support',
      intent: { id: 'ticket-1', purpose: 'Answer ticket 1' } as never,
      tool: 'email.send',
      risk: 'external',
      argsPreview: previewArguments({ to }),
      argsHash: 'h',
      capabilityId: 'c',
      callId: 'k',
      why: 'external email needs a human',
      policyIds: [],
    });
    expect(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(text)).toBe(false);
    expect(text.split('\n').filter((l) => l.startsWith('  why:'))).toEqual(['  why:     external email needs a human']);
  });
});
