/**
 * OpenAI Agents SDK: guarded tools on an Agent, with approval through the SDK's interruptions.
 * Runs offline with a scripted model: `npx tsx examples/openai-agents.ts`. With a real model,
 * drop `model` (the SDK's default provider) and keep everything else.
 */
import { Agent, Runner, Usage, type Model, type ModelResponse } from '@openai/agents-core';
import { z } from 'zod';
import { createFrameworkApprovals, parseDenial, toOpenAIAgentsTools } from '../src/adapters/openai-agents.js';
import { createAuthority, createGuard, guardTool } from '../src/index.js';

/** Stands in for an LLM: answers from a script, one turn per call. */
function scriptedModel(turns: ModelResponse['output'][]): Model & { seen: unknown[] } {
  const seen: unknown[] = [];
  return {
    seen,
    async getResponse(request) {
      seen.push(request.input);
      return { usage: new Usage(), output: turns.shift() ?? [] };
    },
    // eslint-disable-next-line require-yield
    async *getStreamedResponse() {
      throw new Error('not scripted');
    },
  };
}
const call = (callId: string, name: string, args: unknown): ModelResponse['output'] => [
  { type: 'function_call', callId, name, arguments: JSON.stringify(args), status: 'completed' },
];

export async function openAIAgentsExample() {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  // The one place approvals are wired: the guard's approver. The adapter finds it there.
  const approvals = createFrameworkApprovals();
  const guard = createGuard({ audience: 'support-app', trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() }, approver: approvals.approver });
  const readTicket = guardTool(
    guard,
    { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    async ({ ticketId }) => ({ ticketId, status: 'open' }),
  );
  const refund = guardTool(
    guard,
    { name: 'payments.refund', description: 'Refund an order', input: z.object({ orderId: z.string(), amount: z.number() }), risk: 'external' },
    async ({ orderId, amount }, ctx) => ({ orderId, refunded: amount, credential: ctx.credential.id }),
  );
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/support',
    audience: 'support-app',
    intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
    tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } }, 'payments.refund': { args: { amount: { max: 50 } }, maxCalls: 1 } },
    ttl: '5m',
  });

  // The SDK rewrites `tickets.read` to `tickets_read`; the guard still sees its own name.
  const tools = toOpenAIAgentsTools([readTicket, refund]);
  const model = scriptedModel([
    call('c1', 'tickets_read', { ticketId: '9999' }),
    call('c2', 'payments_refund', { orderId: 'o-1', amount: 20 }),
    [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Refunded order o-1.' }] }],
  ]);
  const agent = new Agent({ name: 'support', instructions: 'Resolve the ticket.', model, tools });
  const runner = new Runner({ tracingDisabled: true });

  return guard.withCapability(capability, async () => {
    const first = await runner.run(agent, 'Handle ticket 4711');
    // The model read the wrong ticket and was told why; then it asked for a refund, which paused the run.
    const interruption = first.interruptions[0];
    if (interruption === undefined) throw new Error('expected an approval interruption');
    first.state.approve(interruption);
    const second = await runner.run(agent, first.state);
    const lastInput = model.seen.at(-1) as { type: string; callId?: string; output?: unknown }[];
    const deniedOutput = lastInput.find((i) => i.type === 'function_call_result' && i.callId === 'c1')?.output;
    return { denied: parseDenial(deniedOutput)?.code, approvalAskedFor: interruption.name, final: second.finalOutput };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await openAIAgentsExample());
