/**
 * Tripwires: a support agent's capability is taken over. The hijacked agent probes for what else
 * it can reach; the third denial within a minute trips the denial burst tripwire, and the agent is
 * stopped in the store every guard shares: its next legitimate call is refused
 * `capability_revoked`. A person lists the quarantine and lifts it, saying who and why, and the
 * same call works again. A call to the canary tool (a decoy no honest agent calls) stops it again
 * at once.
 *
 * Run: npx tsx examples/tripwires.ts
 *
 * One process and the memory store here; with guards in several processes, give each the same
 * Redis store (`tessera-guard/redis`) and a trip stops the agent in all of them.
 */
import { z } from 'zod';
import { createAuthority, createGuard, createMemoryStore, guardTool, liftQuarantine, listQuarantines, ToolDeniedError, type TripEvent } from '../src/index.js';

const AGENT = 'spiffe://example.org/agents/support';

export async function tripwiresExample(): Promise<string[]> {
  const log: string[] = [];
  const say = (line: string): void => {
    log.push(line);
  };
  const store = createMemoryStore();
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const guard = createGuard({
    audience: 'support-app',
    trust: { issuer: authority.issuer, jwks: () => authority.jwks() },
    store,
    tripwires: {
      canaryTools: ['admin.export_all'],
      denialBurst: { threshold: 3, window: '1m' },
      onTrip: (trip: TripEvent) => say(`  tripwire ${trip.tripwire} tripped for ${trip.agent}: ${trip.reason}`),
    },
  });

  const readTicket = guardTool(
    guard,
    { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    async ({ ticketId }) => ({ ticketId, status: 'open' }),
  );
  const deleteTicket = guardTool(
    guard,
    { name: 'tickets.delete', description: 'Delete a ticket', input: z.object({ ticketId: z.string() }), risk: 'write' },
    async ({ ticketId }) => ({ deleted: ticketId }),
  );
  // The canary: a decoy tool with a tempting name that no task's grant names.
  const exportAll = guardTool(
    guard,
    { name: 'admin.export_all', description: 'Export every customer record', input: z.object({}), risk: 'admin' },
    async () => {
      say('  (never printed: a canary call never runs)');
      return 'everything';
    },
  );

  const capability = await authority.grant({
    agent: AGENT,
    audience: 'support-app',
    intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
    tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } } },
    ttl: '10m',
  });

  const attempt = async (label: string, call: () => Promise<unknown>) => {
    try {
      await call();
      say(`  allowed  ${label}`);
    } catch (err) {
      if (!(err instanceof ToolDeniedError)) throw err;
      say(`  denied   ${label}: ${err.code}`);
    }
  };
  const listed = async () => {
    for (const q of await listQuarantines(store, Date.now())) say(`  quarantined ${q.agent}: ${q.tripwire} on ${q.tool ?? '?'} by guard ${q.by} (${q.reason})`);
  };
  const lift = async (reason: string) => {
    const r = await liftQuarantine(store, AGENT, { by: 'ann@example.com', reason, atMs: Date.now() });
    say(`  lifted by ${r?.lifted?.by ?? '?'} ("${r?.lifted?.reason ?? '?'}"): stop ${r?.lifted?.stop ?? 'absent'}`);
  };

  say('The agent works on its ticket:');
  await attempt('read ticket 4711', () => readTicket({ ticketId: '4711' }, { capability }));

  say('\nHijacked, it probes (threshold: 3 denials in a minute):');
  await attempt('read ticket 4712', () => readTicket({ ticketId: '4712' }, { capability }));
  await attempt('read ticket 1', () => readTicket({ ticketId: '1' }, { capability }));
  await attempt('delete ticket 4711', () => deleteTicket({ ticketId: '4711' }, { capability }));

  say('\nIts next legitimate call:');
  await attempt('read ticket 4711', () => readTicket({ ticketId: '4711' }, { capability }));

  say('\nA person looks at the quarantine and lifts it:');
  await listed();
  await lift('incident 12: prompt injection in ticket 4712 removed');
  await attempt('read ticket 4711', () => readTicket({ ticketId: '4711' }, { capability }));

  say('\nThe canary: one call stops the agent at once:');
  await attempt('admin.export_all', () => exportAll({}, { capability }));
  await attempt('read ticket 4711', () => readTicket({ ticketId: '4711' }, { capability }));
  await listed();
  return log;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await tripwiresExample()) console.log(line);
}
