/**
 * A CI suite for a support agent, as your project would write it: it proves what one intent's
 * capability lets the agent do, and above all what it does not.
 *
 * In your project: import { createTestAuthority, runScenario, allow, deny } from 'tessera-guard/testing'.
 * Importing the kit registers the matchers (toBeDenied, toBeAllowed, toHaveRecordedSideEffect).
 */
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { allow, createTestAuthority, deny, runScenario } from '../../src/testing/index.js';
import { createSupportTools, type Mailbox } from './support-tools.js';

// Approvals are part of the contract: emails go out only with a human's yes.
const approvals: string[] = [];
const t = await createTestAuthority({
  audience: 'support-app',
  agent: 'spiffe://example.org/agents/support',
  intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
  guard: {
    approver: (request) => {
      approvals.push(`${request.tool} -> ${request.argsPreview.to ?? ''}`);
      return { approved: true, approver: 'oncall@example.com' };
    },
  },
});
const mailbox: Mailbox = { sent: [] };
const { readTicket, sendEmail, refund } = createSupportTools(t.guard, mailbox);

// The capability the orchestrator grants for "answer this ticket".
const answerTicket = () =>
  t.grant({
    tools: {
      'tickets.read': { args: { ticketId: { eq: '4711' } } },
      'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 },
    },
    ttl: '5m',
  });

beforeEach(() => {
  t.reset();
  mailbox.sent.length = 0;
  approvals.length = 0;
});
afterAll(() => t.close());

describe('support agent answering ticket 4711', () => {
  test('the capability allows exactly the task and nothing around it', async () => {
    await runScenario({
      name: 'answer ticket 4711',
      capability: await answerTicket(),
      tools: [readTicket, sendEmail, refund],
      cases: [
        allow('tickets.read', { ticketId: '4711' }),
        deny('tickets.read', { ticketId: '4712' }, 'arguments_out_of_scope', 'another ticket'),
        deny('email.send', { to: 'eve@evil.test', subject: 'hi', body: '…' }, 'arguments_out_of_scope', 'outside domain'),
        allow('email.send', { to: 'ann@example.com', subject: 'Re: invoice', body: 'Fixed.' }),
        deny('email.send', { to: 'ann@example.com', subject: 'Again', body: '…' }, 'call_limit_exceeded', 'second email'),
        deny('billing.refund', { invoiceId: 'inv-1', amount: 10 }, 'tool_not_granted', 'refund'),
      ],
    });
    expect(mailbox.sent).toEqual([{ to: 'ann@example.com', subject: 'Re: invoice' }]);
    expect(approvals).toEqual(['email.send -> ann@example.com']);
  });

  test('an email is sent only after approval, and the span says so', async () => {
    const cap = await answerTicket();
    await expect(sendEmail({ to: 'ann@example.com', subject: 'Re: invoice', body: 'Fixed.' }, { capability: cap })).toBeAllowed();
    expect(t.spans).toHaveRecordedSideEffect('email.sent', { tool: 'email.send' });
    const span = t.expectSpan({ tool: 'email.send', decision: 'allow', sideEffect: 'email.sent' });
    expect(span.attributes['tessera.approval.decision']).toBe('approved');
    expect(span.attributes['tessera.approval.approver']).toBe('oncall@example.com');
  });

  test('nothing the agent held still works once the task is over', async () => {
    const cap = await answerTicket();
    t.clock.advance('5m');
    t.clock.advance('31s'); // past the guard's 30 s clock-skew allowance
    await expect(readTicket({ ticketId: '4711' }, { capability: cap })).toBeDenied('capability_expired');
    t.expectSpan({ tool: 'tickets.read', decision: 'deny', code: 'capability_expired' });
  });

  test('a revoked capability is refused from the next call', async () => {
    const cap = await answerTicket();
    await expect(readTicket({ ticketId: '4711' }, { capability: cap })).toBeAllowed();
    await t.guard.revokeIntent('ticket-4711');
    await expect(readTicket({ ticketId: '4711' }, { capability: cap })).toBeDenied('capability_revoked');
  });

  test('a call without any capability is denied and the tool never runs', async () => {
    await expect(sendEmail({ to: 'ann@example.com', subject: 's', body: 'b' })).toBeDenied('capability_missing');
    expect(mailbox.sent).toEqual([]);
    expect(t.spans).not.toHaveRecordedSideEffect('email.sent');
  });
});
