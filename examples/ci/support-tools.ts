/**
 * The application code under test: a support agent's tools, guarded. In a real project this is
 * your own module; the CI test next to it proves what the agent can and cannot do with them.
 *
 * In your project, import from 'tessera-guard' instead of the relative path.
 */
import { z } from 'zod';
import type { Guard } from '../../src/index.js';
import { guardTool } from '../../src/index.js';

export interface Mailbox {
  readonly sent: { to: string; subject: string }[];
}

export function createSupportTools(guard: Guard, mailbox: Mailbox) {
  const readTicket = guardTool(
    guard,
    {
      name: 'tickets.read',
      description: 'Read a support ticket',
      input: z.object({ ticketId: z.string() }),
      risk: 'read',
    },
    async ({ ticketId }) => ({ ticketId, body: 'My invoice is wrong', customer: 'ann@example.com' }),
  );

  const sendEmail = guardTool(
    guard,
    {
      name: 'email.send',
      description: 'Email a customer',
      input: z.object({ to: z.string().email(), subject: z.string().max(200), body: z.string() }),
      risk: 'external',
    },
    async ({ to, subject }, ctx) => {
      mailbox.sent.push({ to, subject });
      ctx.sideEffect('email.sent', { domain: to.split('@')[1] ?? '' });
      return { queued: true };
    },
  );

  const refund = guardTool(
    guard,
    {
      name: 'billing.refund',
      description: 'Refund a customer',
      input: z.object({ invoiceId: z.string(), amount: z.number().positive() }),
      risk: 'production',
    },
    async () => ({ refunded: true }),
  );

  return { readTicket, sendEmail, refund };
}
