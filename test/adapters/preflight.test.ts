/**
 * guard.preflight: a dry run of the stages that need no human. It must answer what the call
 * would meet (deny with the call's code, require_approval, allow), spend nothing and ask no one.
 */
import { z } from 'zod';
import { beforeEach, describe, expect, test } from 'vitest';
import { createAuthority, createGuard, createMemoryStore, type Guard, type TesseraStore, guardTool } from '../../src/index.js';
import type { CallReservation, ReservationResult } from '../../src/store/types.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';

const clock = manualClock();
let authority: Awaited<ReturnType<typeof createAuthority>>;
let asked: number;

async function world(store?: TesseraStore) {
  authority = await createAuthority({ issuer: ISSUER, clock });
  asked = 0;
  const guard = createGuard({
    audience: AUDIENCE,
    trust: { issuer: ISSUER, jwks: authority.jwks() },
    clock,
    ...(store === undefined ? {} : { store }),
    approver: () => {
      asked++;
      return { approved: true, approver: 'test' };
    },
  });
  const refund = guardTool(
    guard,
    { name: 'payments.refund', description: 'Refund', input: z.object({ orderId: z.string(), amount: z.number() }), risk: 'external' },
    () => 'refunded',
  );
  const read = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }), risk: 'read' }, () => 'ticket');
  const capability = await authority.grant({
    agent: AGENT,
    audience: AUDIENCE,
    intent: { id: 'ticket-4711', purpose: 'p' },
    tools: { 'payments.refund': { args: { amount: { max: 50 } }, maxCalls: 1 }, 'tickets.read': {} },
    ttl: '5m',
  });
  return { guard, refund, read, capability };
}

/** The memory store with the read-only peek of the store contract, answering what reserve would. */
function peekingStore(): TesseraStore & { peeks: CallReservation[] } {
  const inner = createMemoryStore({ clock });
  const peeks: CallReservation[] = [];
  const counts = new Map<string, number>();
  return Object.assign(Object.create(inner) as TesseraStore, {
    peeks,
    reserve(r: CallReservation) {
      const answer = inner.reserve(r) as ReservationResult;
      if (answer.ok) for (const c of r.counters) counts.set(c.key, (counts.get(c.key) ?? 0) + 1);
      return answer;
    },
    peek(r: CallReservation): ReservationResult {
      peeks.push(r);
      for (const c of r.counters) if ((counts.get(c.key) ?? 0) + 1 > c.limit) return { ok: false, reason: 'limit', key: c.key, limit: c.limit };
      return { ok: true };
    },
  });
}

describe('guard.preflight', () => {
  let w: Awaited<ReturnType<typeof world>>;
  beforeEach(async () => {
    w = await world();
  });

  test('a high-risk call inside the grant answers require_approval, and no approver is asked', async () => {
    const d = await w.guard.preflight(w.refund, { orderId: 'o-1', amount: 20 }, { capability: w.capability });
    expect(d.decision).toBe('require_approval');
    expect(asked).toBe(0);
  });

  test('a call outside the grant answers deny with the code the call would get', async () => {
    const d = await w.guard.preflight(w.refund, { orderId: 'o-1', amount: 5000 }, { capability: w.capability, callId: 'c9' });
    expect(d).toMatchObject({ decision: 'deny', code: 'arguments_out_of_scope' });
    await expect(w.refund({ orderId: 'o-1', amount: 5000 }, { capability: w.capability })).rejects.toMatchObject({ code: 'arguments_out_of_scope' });
  });

  test('a read-tier call answers allow; a tool looked up by name works too', async () => {
    expect((await w.guard.preflight('tickets.read', { ticketId: '1' }, { capability: w.capability })).decision).toBe('allow');
  });

  test('without a capability it answers capability_missing; under withCapability it uses the bound one', async () => {
    expect(await w.guard.preflight(w.read, { ticketId: '1' })).toMatchObject({ decision: 'deny', code: 'capability_missing' });
    const d = await w.guard.withCapability(w.capability, () => w.guard.preflight(w.read, { ticketId: '1' }));
    expect(d.decision).toBe('allow');
  });

  test('a forged capability answers capability_invalid; an unknown tool name answers tool_not_granted', async () => {
    expect(await w.guard.preflight(w.read, { ticketId: '1' }, { capability: 'eyJhbGciOiJub25lIn0.e30.' })).toMatchObject({ decision: 'deny', code: 'capability_invalid' });
    expect(await w.guard.preflight('nope', {}, { capability: w.capability })).toMatchObject({ decision: 'deny', code: 'tool_not_granted' });
  });

  test('a store without peek: limits are reported unchecked, and nothing is spent', async () => {
    const noPeek = Object.assign(Object.create(createMemoryStore({ clock })) as TesseraStore, { peek: undefined });
    w = await world(noPeek);
    for (let i = 0; i < 3; i++) {
      expect(await w.guard.preflight(w.refund, { orderId: 'o-1', amount: 20 }, { capability: w.capability })).toMatchObject({
        decision: 'require_approval',
        limitsChecked: false,
      });
    }
    // maxCalls is 1 and three preflights ran: the one real call still has its budget.
    await expect(w.refund({ orderId: 'o-1', amount: 20 }, { capability: w.capability })).resolves.toBe('refunded');
  });

  test('with a store that can peek, a spent budget answers call_limit_exceeded before anyone is asked', async () => {
    const store = peekingStore();
    const p = await world(store);
    expect(await p.guard.preflight(p.refund, { orderId: 'o-1', amount: 20 }, { capability: p.capability })).toMatchObject({ decision: 'require_approval', limitsChecked: true });
    await expect(p.refund({ orderId: 'o-1', amount: 20 }, { capability: p.capability })).resolves.toBe('refunded');
    expect(await p.guard.preflight(p.refund, { orderId: 'o-1', amount: 20 }, { capability: p.capability })).toMatchObject({ decision: 'deny', code: 'call_limit_exceeded' });
    expect(store.peeks[0]?.credentials).toEqual([]);
    expect(store.peeks[0]?.once).toEqual([]);
  });

  test('a store peek that never answers is a deny within the deadline, not a hang', async () => {
    const store = Object.assign(Object.create(createMemoryStore({ clock })) as TesseraStore, { peek: () => new Promise<never>(() => {}) });
    const p = await world(store);
    const d = await p.guard.preflight(p.read, { ticketId: '1' }, { capability: p.capability, timeoutMs: 50 });
    expect(d).toMatchObject({ decision: 'deny', code: 'store_unavailable' });
  });

  test('misused options throw at the call, naming the option', () => {
    expect(() => w.guard.preflight(w.read, {}, { timeoutMs: -1 })).toThrow(/timeoutMs/);
  });
});
