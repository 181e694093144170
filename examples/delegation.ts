/**
 * Three agents, one task: a planner holds the grant for ticket 4711, hands a narrower part to a
 * researcher, who hands a narrower part still to a mailer. Each hand-off is signed by the
 * delegating agent's own key and embeds its parent, so the guard verifies the whole chain
 * offline, and every span names the chain: its depth, its agents and its root grant.
 *
 * Run: npx tsx examples/delegation.ts
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { CapabilityError, createAgentKey, createAuthority, createGuard, delegate, ToolDeniedError, guardTool } from '../src/index.js';

const PLANNER = 'spiffe://example.org/agents/planner';
const RESEARCHER = 'spiffe://example.org/agents/researcher';
const MAILER = 'spiffe://example.org/agents/mailer';

export interface DelegationRow {
  step: string;
  outcome: 'allowed' | 'denied' | 'refused';
  code: string;
}

export async function runDelegationExample(log: (line: string) => void = console.log) {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const guard = createGuard({
    audience: 'support-app',
    trust: { issuer: authority.issuer, jwks: () => authority.jwks() },
    telemetry: { tracer: provider.getTracer('delegation-example') },
  });
  const readTicket = guardTool(
    guard,
    { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    (args) => ({ id: args.ticketId, body: 'Order 88 never arrived' }),
  );
  const sendEmail = guardTool(
    guard,
    { name: 'email.send', description: 'Send an email', input: z.object({ to: z.string().email(), body: z.string() }), risk: 'write' },
    (args, ctx) => {
      ctx.sideEffect('email.sent', { to: args.to });
      return { queued: args.to };
    },
  );

  // Each agent has its own key; a capability bound to it (cnf) is useless without it.
  const planner = await createAgentKey();
  const researcher = await createAgentKey();
  const mailer = await createAgentKey();

  const root = await authority.grant({
    agent: PLANNER,
    audience: 'support-app',
    intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
    tools: {
      'tickets.read': { args: { ticketId: { in: ['4711', '4712'] } } },
      'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 },
    },
    ttl: '10m',
    confirmation: { jkt: planner.jkt },
  });

  // planner → researcher: one ticket, one email, five minutes.
  const forResearcher = await delegate(
    root,
    {
      to: RESEARCHER,
      tools: {
        'tickets.read': { args: { ticketId: { eq: '4711' } } },
        'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 },
      },
      ttl: '5m',
      intent: { purpose: 'Find out what went wrong with ticket 4711' },
      confirmation: { jkt: researcher.jkt },
    },
    { key: planner },
  );

  // researcher → mailer: one email, to ops only.
  const forMailer = await delegate(
    forResearcher,
    {
      to: MAILER,
      tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } },
      intent: { purpose: 'Tell ops about order 88' },
      confirmation: { jkt: mailer.jkt },
    },
    { key: researcher },
  );

  const rows: DelegationRow[] = [];
  const step = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
      rows.push({ step: name, outcome: 'allowed', code: '' });
    } catch (err) {
      if (err instanceof ToolDeniedError) rows.push({ step: name, outcome: 'denied', code: err.code });
      else if (err instanceof CapabilityError) rows.push({ step: name, outcome: 'refused', code: err.code });
      else throw err;
      log(`  ${name}: ${(err as ToolDeniedError | CapabilityError).reason}`);
    }
  };

  const asResearcher = { capability: forResearcher, prover: researcher };
  const asMailer = { capability: forMailer, prover: mailer };
  await step('researcher reads ticket 4711', () => guard.withCapability(asResearcher, () => readTicket({ ticketId: '4711' })));
  await step('researcher reads ticket 4712', () => guard.withCapability(asResearcher, () => readTicket({ ticketId: '4712' })));
  await step('mailer emails ops', () => guard.withCapability(asMailer, () => sendEmail({ to: 'ops@example.com', body: 'Order 88 is lost' })));
  await step('mailer emails sales', () => guard.withCapability(asMailer, () => sendEmail({ to: 'sales@example.com', body: 'Hi' })));
  await step('mailer widens its grant for a helper', () =>
    delegate(forMailer, { to: 'spiffe://example.org/agents/helper', tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 } } }, { key: mailer }),
  );
  // Revoking the planner's grant stops every capability derived from it, on the next call.
  await guard.revokeCapability((await guard.inspect(forMailer)).chain.ids[0]!);
  await step('researcher reads ticket 4711 after the root is revoked', () => guard.withCapability(asResearcher, () => readTicket({ ticketId: '4711' })));

  await provider.forceFlush();
  const spans = exporter.getFinishedSpans();
  log('');
  for (const r of rows) log(`${r.outcome.padEnd(8)} ${r.code.padEnd(24)} ${r.step}`);
  log('');
  for (const s of spans) {
    const a = s.attributes;
    const chain = (a['tessera.delegation.chain'] as string[] | undefined)?.map((x) => x.split('/').pop()).join(' → ') ?? '';
    log(`${s.name.padEnd(26)} ${String(a['tessera.decision']).padEnd(6)} depth=${String(a['tessera.delegation.depth'])} chain=${chain} root=${String(a['tessera.delegation.root_id'] ?? '')}`);
  }
  await provider.shutdown();
  return { rows, spans };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runDelegationExample();
}
