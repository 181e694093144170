import { afterAll, describe, expect, test } from 'vitest';
import { createSpanCapture } from '../../support/otel.js';
import { setup } from '../../support/fixtures.js';

const capture = createSpanCapture();
afterAll(() => capture.shutdown());

describe('onApprovalPending', () => {
  test('a reported pending question records tessera.approval.pending and calls the hook; a throwing hook does not fail the call', async () => {
    const seen: unknown[] = [];
    const s = await setup({
      telemetry: { tracer: capture.tracer },
      approvalTimeoutMs: 5_000,
      approver: (req) => {
        req.pending?.({ route: 'email-approvers' });
        req.pending?.({ route: 'second-call-ignored' });
        return { approved: true, approver: 'alice' };
      },
      onApprovalPending: (info) => {
        seen.push(info);
        throw new Error('hook failed');
      },
      policy: { name: 'always-ask', evaluate: () => ({ effect: 'require_approval', reason: 'ask', policyIds: ['ask'] }) },
    });
    capture.reset();
    const token = await s.grant();
    const now = s.clock();
    await expect(s.guard.withCapability(token, () => s.sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }))).resolves.toMatchObject({ ok: true });
    expect(seen).toEqual([{ callId: expect.any(String), tool: 'email.send', route: 'email-approvers', deadline: now + 5_000 }]);
    const span = (await capture.spans()).find((x) => x.attributes['gen_ai.tool.name'] === 'email.send')!;
    expect(span.events.filter((e) => e.name === 'tessera.approval.pending').map((e) => e.attributes)).toEqual([{ 'tessera.approval.route': 'email-approvers' }]);
  });

  test('a hook that never settles does not hold the call', async () => {
    const s = await setup({
      approvalTimeoutMs: 2_000,
      approver: (req) => {
        req.pending?.({});
        return { approved: true };
      },
      onApprovalPending: () => new Promise<void>(() => undefined),
      policy: { name: 'always-ask', evaluate: () => ({ effect: 'require_approval', reason: 'ask', policyIds: ['ask'] }) },
    });
    await expect(s.guard.withCapability(await s.grant(), () => s.sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }))).resolves.toMatchObject({ ok: true });
  });

  test('onApprovalPending that is not a function is a TypeError naming the option', async () => {
    await expect(setup({ onApprovalPending: 'x' as never })).rejects.toThrow(/onApprovalPending/);
  });
});
