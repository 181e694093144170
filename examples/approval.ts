/**
 * Human approval for a high-risk call, asked on the terminal.
 *
 *   npx tsx examples/approval.ts          # asks you: type y to approve
 *   npx tsx examples/approval.ts --ci     # a scripted approver answers instead (for CI)
 */
import { z } from 'zod';
import { createAuthority, createGuard, loadRulesFile, ToolDeniedError, guardTool } from '../src/index.js';
import { createScriptedApprover, createTerminalApprover } from '../src/policy/approvers.js';

const ci = process.argv.includes('--ci') || !process.stdin.isTTY;
const authority = await createAuthority({ issuer: 'https://authz.example.com' });
const rules = await loadRulesFile(new URL('./policies/rules.yaml', import.meta.url).pathname);

const guard = createGuard({
  audience: 'support-app',
  trust: { issuer: authority.issuer, jwks: () => authority.jwks() },
  policy: rules,
  environment: { name: 'production' },
  approver: ci ? createScriptedApprover(['approve'], { approver: 'ci-script' }) : createTerminalApprover(),
  approvalTimeoutMs: 60_000,
});

const refund = guardTool(
  guard,
  { name: 'refunds.issue', description: 'Refund a customer', input: z.object({ ticketId: z.string(), amount: z.number().int() }), risk: 'write' },
  async (args, ctx) => {
    ctx.sideEffect('refund.issued', { amount: args.amount });
    return `refunded ${args.amount} on ticket ${args.ticketId}`;
  },
);

const capability = await authority.grant({
  agent: 'spiffe://example.org/agents/support',
  audience: 'support-app',
  intent: { id: 'ticket-4711', purpose: 'Refund the customer on ticket 4711' },
  tools: { 'refunds.issue': { args: { ticketId: { eq: '4711' }, amount: { max: 1000 } }, maxCalls: 2 } },
  ttl: '5m',
});

for (const amount of [40, 900]) {
  try {
    // rules.yaml: production writes need approval; refunds above 500 are forbidden outright.
    console.log(await guard.withCapability(capability, () => refund({ ticketId: '4711', amount })));
  } catch (err) {
    if (!(err instanceof ToolDeniedError)) throw err;
    console.log(`denied (${err.code}): ${err.reason} [${err.policyIds.join(', ')}]`);
  }
}
