import { z } from 'zod';
import { createAgentKey, type AgentKey } from '../../src/identity/agent-key.js';
import { createAuthority, createGuard, delegate, type Authority, type DelegationRequest, type GuardOptions, type ToolGrant, guardTool } from '../../src/index.js';
import { AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';

export const PLANNER = 'spiffe://example.org/agents/planner';
export const RESEARCHER = 'spiffe://example.org/agents/researcher';
export const MAILER = 'spiffe://example.org/agents/mailer';
export const ARCHIVER = 'spiffe://example.org/agents/archiver';

export const ROOT_TOOLS: Record<string, ToolGrant> = {
  'tickets.read': { args: { ticketId: { in: ['4711', '4712'] } } },
  'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 3 },
};

/** An authority, a guard, three agents with their own keys, and a root grant to the planner. */
export async function setupChain(overrides: Partial<GuardOptions> = {}) {
  const clock = manualClock();
  const authority: Authority = await createAuthority({ issuer: ISSUER, clock });
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => authority.jwks() }, clock, ...overrides });
  const keys: Record<'planner' | 'researcher' | 'mailer' | 'archiver', AgentKey> = {
    planner: await createAgentKey('EdDSA', { clock }),
    researcher: await createAgentKey('EdDSA', { clock }),
    mailer: await createAgentKey('ES256', { clock }),
    archiver: await createAgentKey('EdDSA', { clock }),
  };
  const ran: string[] = [];
  const readTicket = guardTool(
    guard,
    { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    (args) => {
      ran.push(`tickets.read:${args.ticketId}`);
      return { id: args.ticketId };
    },
  );
  const sendEmail = guardTool(
    guard,
    { name: 'email.send', description: 'Send an email', input: z.object({ to: z.string(), body: z.string() }), risk: 'write' },
    (args) => {
      ran.push(`email.send:${args.to}`);
      return { ok: true };
    },
  );
  const root = (tools: Record<string, ToolGrant> = ROOT_TOOLS, ttl: `${number}m` = '10m') =>
    authority.grant({
      agent: PLANNER,
      audience: AUDIENCE,
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools,
      ttl,
      confirmation: { jkt: keys.planner.jkt },
    });
  /** planner → researcher → mailer, the researcher's and mailer's links signed by their holders' keys. */
  const chain = async () => {
    const r = await root();
    const toResearcher = await delegate(
      r,
      {
        to: RESEARCHER,
        tools: {
          'tickets.read': { args: { ticketId: { eq: '4711' } } },
          'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 },
        },
        ttl: '5m',
        confirmation: { jkt: keys.researcher.jkt },
      },
      { key: keys.planner, clock },
    );
    const toMailer = await delegate(
      toResearcher,
      { to: MAILER, tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } }, confirmation: { jkt: keys.mailer.jkt } },
      { key: keys.researcher, clock },
    );
    return { root: r, toResearcher, toMailer };
  };
  const child = (parent: string, key: AgentKey, request: DelegationRequest) => delegate(parent, request, { key, clock });
  return { clock, authority, guard, keys, ran, readTicket, sendEmail, root, chain, child };
}

/** Splits a compact JWS into its decoded header and payload and its raw signature segment. */
export function unpack(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signature: string } {
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as Record<string, unknown>,
    signature: s!,
  };
}
