/**
 * Vercel AI SDK: guarded tools in `generateText`, with the AI SDK's own tool approval.
 * Runs offline with the AI SDK's mock model: `npx tsx examples/ai-sdk.ts`. Swap in a real
 * model (`openai('gpt-4o')`, …) and nothing else changes.
 */
import { generateText, stepCountIs, type ModelMessage } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { z } from 'zod';
import { createFrameworkApprovals, parseDenial, toAISDKTools } from '../src/adapters/ai-sdk.js';
import { createAuthority, createGuard, guardTool } from '../src/index.js';

const turn = (toolCallId: string, toolName: string, input: unknown) => ({
  content: [{ type: 'tool-call' as const, toolCallId, toolName, input: JSON.stringify(input) }],
  finishReason: { unified: 'tool-calls' as const, raw: undefined },
  usage: { inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 1, text: 1, reasoning: undefined } },
  warnings: [],
});
const say = (text: string) => ({ ...turn('', '', {}), content: [{ type: 'text' as const, text }], finishReason: { unified: 'stop' as const, raw: undefined } });

export async function aiSdkExample() {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const approvals = createFrameworkApprovals();
  const guard = createGuard({
    audience: 'support-app',
    trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() },
    // The one place approvals are wired: the AI SDK asks the human, the guard reads the answer.
    approver: approvals.approver,
  });
  const readTicket = guardTool(
    guard,
    { name: 'tickets_read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    async ({ ticketId }, ctx) => ({ ticketId, status: 'open', credential: ctx.credential.id }),
  );
  const refund = guardTool(
    guard,
    { name: 'payments_refund', description: 'Refund an order', input: z.object({ orderId: z.string(), amount: z.number() }), risk: 'external' },
    async ({ orderId, amount }) => ({ orderId, refunded: amount }),
  );
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/support',
    audience: 'support-app',
    intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
    tools: { tickets_read: { args: { ticketId: { eq: '4711' } } }, payments_refund: { args: { amount: { max: 50 } }, maxCalls: 1 } },
    ttl: '5m',
  });
  const tools = toAISDKTools([readTicket, refund]);
  const model = new MockLanguageModelV3({
    doGenerate: [
      turn('c1', 'tickets_read', { ticketId: '4711' }),
      turn('c2', 'tickets_read', { ticketId: '9999' }),
      turn('c3', 'payments_refund', { orderId: 'o-1', amount: 20 }),
      say('Refunded order o-1.'),
    ],
  });

  return guard.withCapability(capability, async () => {
    const messages: ModelMessage[] = [{ role: 'user', content: 'Handle ticket 4711' }];
    const first = await generateText({ model, tools, messages, stopWhen: stepCountIs(5) });
    const denied = parseDenial(first.steps[1]?.toolResults[0]?.output);
    // The run paused on the refund: the AI SDK asks for approval; here the human says yes.
    const request = first.content.find((p) => p.type === 'tool-approval-request');
    if (request?.type !== 'tool-approval-request') throw new Error('expected an approval request');
    messages.push(...first.response.messages, { role: 'tool', content: [{ type: 'tool-approval-response', approvalId: request.approvalId, approved: true }] });
    const second = await generateText({ model, tools, messages, stopWhen: stepCountIs(5) });
    return { read: first.steps[0]?.toolResults[0]?.output, denied: denied?.code, approvalAskedFor: request.toolCall.toolName, final: second.text };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await aiSdkExample());
