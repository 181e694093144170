/** The README quickstart, runnable: `npx tsx examples/quickstart.ts`. */
import { z } from 'zod';
import { createAuthority, createGuard, ToolDeniedError } from '../src/index.js';

const mailer = { send: async (args: { to: string; body: string }, _auth: { token: string }) => ({ queued: args.to }) };

export async function quickstart(): Promise<{ sent: unknown; denied: string }> {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/support',
    audience: 'support-app',
    intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
    tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 } },
    ttl: '5m',
  });
  const guard = createGuard({
    audience: 'support-app',
    trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() },
  });
  const sendEmail = guard.tool(
    { name: 'email.send', description: 'Send an email', input: z.object({ to: z.string().email(), body: z.string() }) },
    async (args, ctx) => mailer.send(args, { token: ctx.credential.token }),
  );
  return guard.withCapability(capability, async () => {
    const sent = await sendEmail({ to: 'dana@example.com', body: 'Hi' });
    const denied = await sendEmail({ to: 'eve@evil.example', body: 'Hi' }).catch((e: ToolDeniedError) => e.code);
    return { sent, denied: String(denied) };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await quickstart());
