/**
 * The world every end-to-end test runs in: a real authority and guard on a controlled clock, the
 * real OpenTelemetry SDK with an in-memory exporter, framework approvals wired to the guard's
 * approver, and three tools whose bodies record that they ran and verify their credential the
 * way a downstream service would.
 */
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { createFrameworkApprovals } from '../../../src/adapters/approvals.js';
import { createAuthority, createGuard, verifyCallCredential, type Approver, type GuardOptions, guardTool } from '../../../src/index.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../../support/fixtures.js';

export async function createWorld(options: { fallback?: Approver; guard?: Partial<GuardOptions> } = {}) {
  const clock = manualClock();
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const approvals = createFrameworkApprovals({ clock, ...(options.fallback ? { fallback: options.fallback } : {}) });
  const authority = await createAuthority({ issuer: ISSUER, clock });
  const guard = createGuard({
    audience: AUDIENCE,
    trust: { issuer: ISSUER, jwks: () => authority.jwks() },
    clock,
    approver: approvals.approver,
    telemetry: { tracer: provider.getTracer('tessera-e2e') },
    ...options.guard,
  });

  /** What each tool body saw: the verified credential's claims, one entry per run. */
  const ran: { tool: string; callId: string; credentialJti: string; credentialCallId: string; credentialToken: string }[] = [];
  const downstream = async (tool: string, token: string) =>
    verifyCallCredential(token, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: tool, store: guard.store, clock, tool });

  const readTicket = guardTool(
    guard,
    { name: 'tickets.read', description: 'Read a support ticket by id', input: z.object({ ticketId: z.string() }), risk: 'read' },
    async (args, ctx) => {
      const claims = await downstream('tickets.read', ctx.credential.token);
      ran.push({ tool: 'tickets.read', callId: ctx.callId, credentialJti: claims.jti, credentialCallId: claims.call_id, credentialToken: ctx.credential.token });
      return { id: args.ticketId, subject: 'Refund request', status: 'open' };
    },
  );
  const refund = guardTool(
    guard,
    {
      name: 'payments.refund',
      description: 'Refund an order to the customer',
      input: z.object({ orderId: z.string(), amount: z.number() }),
      risk: 'external',
    },
    async (args, ctx) => {
      const claims = await downstream('payments.refund', ctx.credential.token);
      ran.push({ tool: 'payments.refund', callId: ctx.callId, credentialJti: claims.jti, credentialCallId: claims.call_id, credentialToken: ctx.credential.token });
      ctx.sideEffect('payment.refunded', { orderId: args.orderId });
      return { refunded: args.amount };
    },
  );
  const deleteAccount = guardTool(
    guard,
    { name: 'accounts.delete', description: 'Delete a customer account', input: z.object({ accountId: z.string() }), risk: 'admin' },
    async (args, ctx) => {
      ran.push({ tool: 'accounts.delete', callId: ctx.callId, credentialJti: ctx.credential.id, credentialCallId: ctx.callId, credentialToken: ctx.credential.token });
      return { deleted: args.accountId };
    },
  );

  const capability = await authority.grant({
    agent: AGENT,
    audience: AUDIENCE,
    intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
    tools: {
      'tickets.read': { args: { ticketId: { eq: '4711' } } },
      'payments.refund': { args: { orderId: { eq: 'o-1' }, amount: { max: 50 } } },
    },
    ttl: '5m',
  });

  return {
    clock,
    guard,
    approvals,
    authority,
    capability,
    ran,
    tools: { readTicket, refund, deleteAccount },
    async spans(): Promise<ReadableSpan[]> {
      await provider.forceFlush();
      return exporter.getFinishedSpans();
    },
    async spanFor(callId: string): Promise<ReadableSpan> {
      await provider.forceFlush();
      const found = exporter.getFinishedSpans().filter((s) => s.attributes['gen_ai.tool.call.id'] === callId);
      if (found.length !== 1) throw new Error(`expected one span for call ${callId}, found ${found.length}`);
      return found[0]!;
    },
    shutdown: () => provider.shutdown(),
  };
}

export type World = Awaited<ReturnType<typeof createWorld>>;
