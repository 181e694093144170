import { z } from 'zod';
import { createAuthority, createGuard, type Authority, type Guard, type GuardOptions, guardTool } from '../../src/index.js';
import { createManualClock } from '../../src/testing/clock.js';

export const ISSUER = 'https://authz.example.com';
export const AUDIENCE = 'support-app';
export const AGENT = 'spiffe://example.org/agents/support';

/** The testing kit's manual clock: one clock implementation for every test. */
export const manualClock = createManualClock;

export async function setup(overrides: Partial<GuardOptions> = {}) {
  const clock = manualClock();
  const authority: Authority = await createAuthority({ issuer: ISSUER, clock });
  const guard: Guard = createGuard({
    audience: AUDIENCE,
    trust: { issuer: ISSUER, jwks: () => authority.jwks() },
    clock,
    ...overrides,
  });
  const ran: string[] = [];
  const readTicket = guardTool(
    guard,
    {
      name: 'tickets.read',
      description: 'Read a ticket',
      input: z.object({ ticketId: z.string() }),
      risk: 'read',
    },
    async (args, ctx) => {
      ran.push(`tickets.read:${args.ticketId}`);
      return { id: args.ticketId, credential: ctx.credential.id };
    },
  );
  const sendEmail = guardTool(
    guard,
    {
      name: 'email.send',
      description: 'Send an email',
      input: z.object({ to: z.string().email(), subject: z.string(), body: z.string() }),
      risk: 'write',
    },
    async (args, ctx) => {
      ran.push(`email.send:${args.to}`);
      ctx.sideEffect('email.sent', { to: args.to });
      return { ok: true, token: ctx.credential.token };
    },
  );
  const grant = (extra: Partial<Parameters<Authority['grant']>[0]> = {}) =>
    authority.grant({
      agent: AGENT,
      audience: AUDIENCE,
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools: {
        'tickets.read': { args: { ticketId: { eq: '4711' } } },
        'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 },
      },
      ttl: '5m',
      ...extra,
    });
  return { clock, authority, guard, readTicket, sendEmail, ran, grant };
}
