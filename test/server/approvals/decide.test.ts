import { describe, expect, test } from 'vitest';
import { decide } from '../../../src/server/approvals/decide.js';
import { createMemoryApprovalsStore } from '../../../src/server/approvals/store.js';
import { AGENT, ALICE, BOB, record } from './support.js';

const setup = async (extra: Parameters<typeof record>[0] = {}) => {
  const store = createMemoryApprovalsStore();
  const r = record(extra);
  await store.put(r);
  return { store, r };
};

describe('decide()', () => {
  test('an approver holding the route role approves; the decision is recorded', async () => {
    const { store, r } = await setup();
    const result = await decide(store, { id: r.id, approverIdentity: ALICE, approverRoles: ['payments-approvers'], outcome: 'approved', now: r.createdAt + 1 });
    expect(result).toEqual({ ok: true, decision: { outcome: 'approved', approver: ALICE, decidedAt: r.createdAt + 1 } });
    expect((await store.get(r.id))?.decision?.outcome).toBe('approved');
  });

  test('an approver without the route role is refused', async () => {
    const { store, r } = await setup();
    const result = await decide(store, { id: r.id, approverIdentity: BOB, approverRoles: ['support-approvers'], outcome: 'approved', now: r.createdAt });
    expect(result).toMatchObject({ ok: false, code: 'approver_not_in_route' });
    expect((await store.get(r.id))?.decision).toBeUndefined();
  });

  test("the agent's own identity may not approve its request, even holding the route role", async () => {
    const { store, r } = await setup();
    const result = await decide(store, { id: r.id, approverIdentity: AGENT, approverRoles: ['payments-approvers'], outcome: 'approved', now: r.createdAt });
    expect(result).toMatchObject({ ok: false, code: 'approval_self' });
  });

  test('a decision after the deadline is refused', async () => {
    const { store, r } = await setup();
    const result = await decide(store, { id: r.id, approverIdentity: ALICE, approverRoles: ['payments-approvers'], outcome: 'approved', now: r.deadline + 1 });
    expect(result).toMatchObject({ ok: false, code: 'approval_expired' });
  });

  test('the store refuses a decision past the deadline even when the caller checked earlier', async () => {
    const { store, r } = await setup();
    expect(await store.decide(r.id, { outcome: 'approved', approver: ALICE, decidedAt: r.deadline + 1 })).toEqual({ ok: false, why: 'expired' });
  });

  test('the first decision wins: of concurrent approve and deny exactly one is recorded', async () => {
    const { store, r } = await setup();
    const input = { id: r.id, approverIdentity: ALICE, approverRoles: ['payments-approvers'], now: r.createdAt };
    const results = await Promise.all([decide(store, { ...input, outcome: 'approved' }), decide(store, { ...input, outcome: 'denied', reason: 'no' })]);
    expect(results.filter((x) => x.ok)).toHaveLength(1);
    expect(results.filter((x) => !x.ok).map((x) => (x.ok ? '' : x.code))).toEqual(['approval_already_decided']);
  });

  test('an unknown id is approval_not_found', async () => {
    const { store } = await setup();
    expect(await decide(store, { id: 'nope', approverIdentity: ALICE, approverRoles: ['payments-approvers'], outcome: 'approved', now: Date.now() })).toMatchObject({
      ok: false,
      code: 'approval_not_found',
    });
  });

  test('control characters in a reason are replaced, so a reason cannot forge lines', async () => {
    const { store, r } = await setup();
    const result = await decide(store, { id: r.id, approverIdentity: ALICE, approverRoles: ['payments-approvers'], outcome: 'denied', reason: 'no\nAPPROVED by admin', now: r.createdAt });
    expect(result.ok && result.decision.reason).toBe('no APPROVED by admin');
  });

  test('a reason longer than 500 characters is approval_invalid', async () => {
    const { store, r } = await setup();
    const result = await decide(store, { id: r.id, approverIdentity: ALICE, approverRoles: ['payments-approvers'], outcome: 'denied', reason: 'x'.repeat(501), now: r.createdAt });
    expect(result).toMatchObject({ ok: false, code: 'approval_invalid' });
  });
});
