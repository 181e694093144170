import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createMemoryApprovalsStore } from '../../../src/server/approvals/store.js';
import type { TestTrustDomain } from '../../identity/trust-domain.js';
import { AGENT, ALICE, get, OTHER_AGENT, post, startService, submission, trustDomain, type Running } from './support.js';

let td: TestTrustDomain;
let svc: Running;
const store = createMemoryApprovalsStore();

beforeAll(async () => {
  td = await trustDomain();
  svc = await startService(td, store, { maxBodyBytes: 4096 });
});
afterAll(() => svc.close());

const submit = async (token: string, body = submission()): Promise<{ id: string; deadline: number; route: string }> => {
  const res = await post(`${svc.base}/requests`, token, body);
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; deadline: number; route: string };
};

describe('approvals API', () => {
  test('a submission is stored under the authenticated identity and routed by tool; the body cannot name another agent', async () => {
    const token = await td.svid(AGENT);
    const created = await submit(token);
    expect(created.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(created.route).toBe('payments-approvers');
    expect((await store.get(created.id))?.request.agent).toBe(AGENT);
    const forged = await post(`${svc.base}/requests`, token, submission({ agent: OTHER_AGENT }));
    expect(forged.status).toBe(400);
  });

  test('without a token the answer is 401 invalid_token', async () => {
    const res = await post(`${svc.base}/requests`, undefined, submission());
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
  });

  test('a rejected token is never echoed in the answer', async () => {
    const bad = await td.svid(AGENT, { aud: 'someone-else' });
    const res = await post(`${svc.base}/requests`, bad, submission());
    const text = await res.text();
    expect(res.status).toBe(401);
    expect(text).not.toContain(bad.split('.')[1]!);
  });

  test('another identity reading a decision gets 404, as for an unknown id', async () => {
    const { id } = await submit(await td.svid(AGENT));
    const res = await get(`${svc.base}/requests/${id}/decision`, await td.svid(OTHER_AGENT));
    expect(res.status).toBe(404);
  });

  test('a body over the bound is 413', async () => {
    const res = await post(`${svc.base}/requests`, await td.svid(AGENT), submission({ why: 'x'.repeat(5000) }));
    expect(res.status).toBe(413);
  });

  test('a long-poll returns as soon as an approver decides, with the approver and the approved call', async () => {
    const token = await td.svid(AGENT);
    const { id } = await submit(token);
    const started = Date.now();
    const polling = get(`${svc.base}/requests/${id}/decision?wait=20000`, token);
    setTimeout(() => {
      void (async () => post(`${svc.base}/requests/${id}/decision`, await td.svid(ALICE), { decision: 'approve' }))();
    }, 200);
    const res = await polling;
    expect(await res.json()).toEqual({ status: 'approved', approver: ALICE, binding: { tool: 'payments.refund', argsHash: submission().argsHash, capabilityId: 'cap-1' } });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('the submitting agent cannot approve its own request through the decision API', async () => {
    // AGENT holds payments-approvers in this policy, so only the self-approval rule stops it.
    const token = await td.svid(AGENT);
    const { id } = await submit(token);
    const res = await post(`${svc.base}/requests/${id}/decision`, token, { decision: 'approve' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('approval_self');
  });

  test('a wait that is not a number is 400', async () => {
    const token = await td.svid(AGENT);
    const { id } = await submit(token);
    expect((await get(`${svc.base}/requests/${id}/decision?wait=abc`, token)).status).toBe(400);
  });

  test('an undecided request past its deadline reads as expired', async () => {
    const token = await td.svid(AGENT);
    const { id } = await submit(token, submission({ timeoutMs: 1 }));
    await new Promise((r) => setTimeout(r, 20));
    expect(await (await get(`${svc.base}/requests/${id}/decision`, token)).json()).toMatchObject({ status: 'expired' });
  });


  test('a route that is not a role of the grant policy is a TypeError at construction', async () => {
    await expect(startService(td, store, { defaultRoute: 'nobody' })).rejects.toThrow(TypeError);
  });

  test('beyond maxPendingPerAgent undecided requests a submission is 429', async () => {
    const own = await startService(td, createMemoryApprovalsStore(), { maxPendingPerAgent: 2 });
    try {
      const token = await td.svid(AGENT);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(`${own.base}/requests`, token, submission())).status);
      expect(statuses).toEqual([201, 201, 429]);
    } finally {
      await own.close();
    }
  });
});
