/**
 * LangChain.js: guarded tools in `createAgent`, with approval through LangChain's
 * human-in-the-loop middleware. Runs offline with LangChain's fake chat model:
 * `npx tsx examples/langchain.ts`. With a real model, pass it as `model` and keep the rest.
 */
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent, fakeModel, humanInTheLoopMiddleware } from 'langchain';
import { z } from 'zod';
import { createFrameworkApprovals, guardedHumanInTheLoop, parseDenial, toLangChainTools } from '../src/adapters/langchain.js';
import { createAuthority, createGuard, guardTool } from '../src/index.js';

export async function langChainExample() {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  // The one place approvals are wired: the guard's approver. The adapters find it there.
  const approvals = createFrameworkApprovals();
  const guard = createGuard({ audience: 'support-app', trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() }, approver: approvals.approver });
  const readTicket = guardTool(
    guard,
    { name: 'tickets_read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    async ({ ticketId }) => ({ ticketId, status: 'open' }),
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

  const model = fakeModel()
    .respondWithTools([{ name: 'tickets_read', args: { ticketId: '9999' }, id: 'c1' }])
    .respondWithTools([{ name: 'payments_refund', args: { orderId: 'o-1', amount: 20 }, id: 'c2' }])
    .respond(new AIMessage('Refunded order o-1.'));
  const tools = toLangChainTools([readTicket, refund]);
  const agent = createAgent({
    model,
    tools,
    // Pauses only for calls the guard would allow with a human's approval; each answer reaches the guard.
    middleware: [guardedHumanInTheLoop(humanInTheLoopMiddleware, tools)],
    checkpointer: new MemorySaver(),
  });
  const config = { configurable: { thread_id: 'ticket-4711' } };

  return guard.withCapability(capability, async () => {
    const paused = await agent.invoke({ messages: [new HumanMessage('Handle ticket 4711')] }, config);
    const denial = paused.messages.find((m) => ToolMessage.isInstance(m) && m.tool_call_id === 'c1');
    const done = await agent.invoke(new Command({ resume: { decisions: [{ type: 'approve' }] } }), config);
    return {
      denied: parseDenial(denial?.content)?.code,
      deniedStatus: denial && ToolMessage.isInstance(denial) ? denial.status : undefined,
      paused: paused.__interrupt__?.length ?? 0,
      final: done.messages.at(-1)?.content,
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await langChainExample());
