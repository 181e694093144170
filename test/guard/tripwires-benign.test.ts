/**
 * No false trip: the support agent of examples/ci (its tools exactly as the example guards them)
 * works through 1,000 tickets, 10,000 calls, with every tripwire on at its recommended
 * setting for the tier. It reads, answers with a human's approval, and now and then makes the
 * honest mistakes a model makes (another ticket's id, a second email). The guard's clock moves
 * as an agent's would: one to three seconds between calls. The advisor's recorded scenario (the
 * reporting agent of test/advise/scenario.ts) runs 10,000 calls the same way.
 */
import { expect, test } from 'vitest';
import { createAuthority, createGuard, createMemoryStore, ToolDeniedError, type GrantRequest, type TripEvent } from '../../src/index.js';
import { createSupportTools, type Mailbox } from '../../examples/ci/support-tools.js';
import { manualClock } from '../support/fixtures.js';
import { createSpanCapture } from '../../src/testing/index.js';
import { RECORDED, TASKS, world } from '../advise/scenario.js';

const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'support-app';
const AGENT = 'spiffe://example.org/agents/support';

test('10,000 calls of the example support agent never trip a tripwire', async () => {
  const clock = manualClock();
  const authority = await createAuthority({ issuer: ISSUER, clock });
  const trips: TripEvent[] = [];
  const guard = createGuard({
    audience: AUDIENCE,
    trust: { issuer: ISSUER, jwks: authority.jwks() },
    store: createMemoryStore({ clock }),
    clock,
    approver: () => ({ approved: true, approver: 'oncall@example.com' }),
    tripwires: {
      canaryTools: ['admin.export_all'],
      denialBurst: { threshold: 5, window: '1m' },
      foreignAudience: true,
      identityMismatch: true,
      callRate: {},
      onTrip: (t) => void trips.push(t),
    },
  });
  const mailbox: Mailbox = { sent: [] };
  const { readTicket, sendEmail } = createSupportTools(guard, mailbox);

  // A fixed seed: the same run every time.
  let seed = 0x5eed;
  const random = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  const outcomes = new Map<string, number>();
  const record = async (p: Promise<unknown>): Promise<void> => {
    const o = await p.then(
      () => 'allowed',
      (e: unknown) => (e instanceof ToolDeniedError ? e.code : `unexpected ${String(e)}`),
    );
    outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    clock.advance(1000 + Math.floor(random() * 2000));
  };

  let calls = 0;
  for (let ticket = 1; calls < 10_000; ticket++) {
    const id = String(ticket);
    const capability = await authority.grant({
      agent: AGENT,
      audience: AUDIENCE,
      intent: { id: `ticket-${id}`, purpose: `Answer ticket ${id}` },
      tools: { 'tickets.read': { args: { ticketId: { eq: id } } }, 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 } },
      ttl: '10m',
    });
    await guard.withCapability(capability, async () => {
      const reads = 7 + Math.floor(random() * 3);
      for (let r = 0; r < reads && calls < 10_000; r++, calls++) await record(readTicket({ ticketId: id }));
      // One task in ten: the model reaches for the previous ticket once.
      if (random() < 0.1 && calls < 10_000) {
        calls++;
        await record(readTicket({ ticketId: String(ticket - 1) }));
      }
      if (calls < 10_000) {
        calls++;
        await record(sendEmail({ to: 'ann@example.com', subject: `Re: ticket ${id}`, body: 'Fixed.' }));
      }
      // One task in twenty: a second email, over the grant's limit.
      if (random() < 0.05 && calls < 10_000) {
        calls++;
        await record(sendEmail({ to: 'ann@example.com', subject: 'And also', body: '…' }));
      }
    });
  }

  expect(trips).toEqual([]);
  const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
  expect(total).toBe(10_000);
  expect([...outcomes.keys()].sort()).toEqual(['allowed', 'arguments_out_of_scope', 'call_limit_exceeded']);
  expect(outcomes.get('allowed')).toBeGreaterThan(9_500);
}, 120_000);

test("10,000 calls of the advisor's recorded scenario never trip a tripwire", async () => {
  const clock = manualClock();
  const authority = await createAuthority({ issuer: RECORDED.issuer, clock });
  const trips: TripEvent[] = [];
  // The scenario's guard records spans; they are dropped after each task.
  const capture = createSpanCapture();
  const { tools } = world(authority, clock, 'enforce', capture.tracer, {
    store: createMemoryStore({ clock }),
    tripwires: {
      canaryTools: ['admin.export_all'],
      denialBurst: { threshold: 5, window: '1m' },
      foreignAudience: true,
      identityMismatch: true,
      callRate: {},
      onTrip: (t) => void trips.push(t),
    },
  });
  const { issuer: _issuer, ...request } = RECORDED as unknown as GrantRequest & { issuer: string };
  const tasks = Object.values(TASKS);
  const outcomes = new Map<string, number>();
  let calls = 0;
  for (let task = 0; calls < 10_000; task++) {
    const capability = await authority.grant({ ...request, intent: { id: `report-${task}`, purpose: RECORDED.intent.purpose } });
    for (const [tool, args] of tasks[task % tasks.length]!) {
      if (calls++ >= 10_000) break;
      const o = await tools[tool]!(args, { capability }).then(
        () => 'allowed',
        (e: unknown) => (e instanceof ToolDeniedError ? e.code : `unexpected ${String(e)}`),
      );
      outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
      clock.advance(1000 + (calls % 3) * 1000);
    }
    capture.reset();
  }
  expect(trips).toEqual([]);
  expect([...outcomes.entries()]).toEqual([['allowed', 10_000]]);
  await capture.shutdown();
}, 120_000);
