/** The README quickstart, runnable: `npx tsx examples/quickstart.ts`. A test keeps the two identical. */
import { createAuthority, createGuard, guardTool, ToolDeniedError } from '../src/index.js';
import { createScriptedApprover } from '../src/policy/approvers.js';
import { z } from 'zod';

// Stands in for your mail client.
const mailer = { send: async (args: { to: string; body: string }, _auth: { token: string }) => ({ queued: args.to }) };

// Control plane: grants a capability for one intent, one tool, a few minutes.
const authority = await createAuthority({ issuer: 'https://authz.example.com' });
const capability = await authority.grant({
  agent: 'spiffe://example.org/agents/support',
  audience: 'support-app',
  intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
  tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } },
  ttl: '5m',
});

// Data plane: where the tools run. Sending mail is an external action, so a human approves each
// call; here a script answers for them: yes to the first request, no to the second.
const script = createScriptedApprover(['approve', 'deny'], { approver: 'oncall@example.com' });
const guard = createGuard({
  audience: 'support-app',
  trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() },
  approver: async (request) => {
    const answer = await script(request);
    console.log(`  approval: ${answer.approved ? 'approved' : 'refused'} by ${answer.approver}`);
    return answer;
  },
});
const sendEmail = guardTool(
  guard,
  { name: 'email.send', description: 'Send an email', input: z.object({ to: z.string().email(), body: z.string() }), risk: 'external' },
  async (args, ctx) => mailer.send(args, { token: ctx.credential.token }), // single-use, revoked after the call
);

// The agent runtime binds the capability; the model never sees it.
await guard.withCapability(capability, async () => {
  for (const to of ['dana@example.com', 'eve@evil.example', 'ops@example.com']) {
    console.log(`email.send to ${to}`);
    try {
      console.log(`  allowed: ${JSON.stringify(await sendEmail({ to, body: 'Hi' }))}`);
    } catch (err) {
      if (!(err instanceof ToolDeniedError)) throw err;
      console.log(`  denied: ${err.code} (${err.reason})`);
    }
  }
});
