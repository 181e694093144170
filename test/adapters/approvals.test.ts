/**
 * The bridge from a framework's approval flow to the guard's approver: it approves only the
 * exact call a human decided on, once, and fails closed otherwise.
 */
import { z } from 'zod';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createFrameworkApprovals, type FrameworkApprovals } from '../../src/adapters/approvals.js';
import { createAuthority, createGuard, type Guard, type GuardedTool, guardTool } from '../../src/index.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';

let approvals: FrameworkApprovals;
let guard: Guard;
let refund: GuardedTool<z.ZodObject<{ orderId: z.ZodString }>, string>;
let capability: string;
let ran: string[];
let authority: Awaited<ReturnType<typeof createAuthority>>;
const clock = manualClock();

beforeEach(async () => {
  approvals = createFrameworkApprovals({ clock });
  authority = await createAuthority({ issuer: ISSUER, clock });
  guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, clock, approver: approvals.approver });
  ran = [];
  refund = guardTool(guard, { name: 'payments.refund', description: 'Refund', input: z.object({ orderId: z.string() }), risk: 'external' }, async (a) => {
    ran.push(a.orderId);
    return 'ok';
  });
  capability = await authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { 'payments.refund': {} }, ttl: '5m' });
});
afterEach(() => clock.set(Date.UTC(2026, 10, 28, 12, 0, 0)));

const approved = (callId: string, tool = 'payments.refund') => ({ tool, callId, approved: true, approver: 'test' });

describe('createFrameworkApprovals', () => {
  test('a decision in scope approves exactly its call', async () => {
    await expect(approvals.run(approved('c1'), () => refund({ orderId: 'o-1' }, { capability, callId: 'c1' }))).resolves.toBe('ok');
    expect(ran).toEqual(['o-1']);
  });

  test('a framework approval id approves one call only, even when replayed for the same call id', async () => {
    const once = { ...approved('c1'), id: 'ai-sdk:approval-1' };
    await expect(approvals.run(once, () => refund({ orderId: 'o-1' }, { capability, callId: 'c1' }))).resolves.toBe('ok');
    await expect(approvals.run(once, () => refund({ orderId: 'o-1' }, { capability, callId: 'c1' }))).rejects.toMatchObject({
      code: 'approval_denied',
    });
    expect(ran).toEqual(['o-1']);
  });

  test('a decision for another call id does not approve this call', async () => {
    await expect(approvals.run(approved('c1'), () => refund({ orderId: 'o-1' }, { capability, callId: 'c2' }))).rejects.toMatchObject({
      code: 'approval_denied',
    });
    expect(ran).toEqual([]);
  });

  test('a decision for another tool with the same call id does not approve this call', async () => {
    await expect(approvals.run(approved('c1', 'email.send'), () => refund({ orderId: 'o-1' }, { capability, callId: 'c1' }))).rejects.toMatchObject({
      code: 'approval_denied',
    });
    expect(ran).toEqual([]);
  });

  test('a refusal in scope is a denial carrying its reason', async () => {
    const refusal = { tool: 'payments.refund', callId: 'c1', approved: false, reason: 'not today' };
    await expect(approvals.run(refusal, () => refund({ orderId: 'o-1' }, { capability, callId: 'c1' }))).rejects.toMatchObject({
      code: 'approval_denied',
      reason: 'the approver refused: not today',
    });
  });

  test('no decision and no fallback is a denial', async () => {
    await expect(refund({ orderId: 'o-1' }, { capability, callId: 'c1' })).rejects.toMatchObject({ code: 'approval_denied' });
    expect(ran).toEqual([]);
  });

  test('a fallback approver answers when the framework recorded nothing', async () => {
    const withFallback = createFrameworkApprovals({ clock, fallback: () => ({ approved: true, approver: 'pager' }) });
    expect(await withFallback.approver({ callId: 'x', tool: 't' } as never)).toEqual({ approved: true, approver: 'pager' });
  });

  test('a fallback approver that throws denies the call', async () => {
    const throwing = createFrameworkApprovals({
      clock,
      fallback: () => {
        throw new Error('pager down');
      },
    });
    const g = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, clock, approver: throwing.approver });
    const t = guardTool(g, { name: 'payments.refund', description: 'Refund', input: z.object({ orderId: z.string() }), risk: 'external' }, async () => {
      ran.push('ran');
    });
    await expect(t({ orderId: 'o-1' }, { capability, callId: 'c1' })).rejects.toMatchObject({ code: 'approval_denied' });
    expect(ran).toEqual([]);
  });

  test('a recorded decision is single use', () => {
    approvals.record('k', approved('c1'));
    expect(approvals.take('k')).toMatchObject({ callId: 'c1', approved: true });
    expect(approvals.take('k')).toBeUndefined();
  });

  test('a recorded decision expires', () => {
    const short = createFrameworkApprovals({ clock, ttlMs: 1000 });
    short.record('k', approved('c1'));
    clock.advance(1001);
    expect(short.take('k')).toBeUndefined();
  });

  test('pending decisions are bounded', () => {
    const small = createFrameworkApprovals({ clock, maxPending: 2 });
    small.record('a', approved('a'));
    small.record('b', approved('b'));
    small.record('c', approved('c'));
    expect(small.take('a')).toBeUndefined();
    expect(small.take('b')).toMatchObject({ callId: 'b' });
    expect(small.take('c')).toMatchObject({ callId: 'c' });
  });

  test('bad options are refused at construction', () => {
    expect(() => createFrameworkApprovals({ ttlMs: -1 })).toThrow(TypeError);
    expect(() => createFrameworkApprovals({ fallback: 'yes' as never })).toThrow(TypeError);
  });
});
