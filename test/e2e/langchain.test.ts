import { AIMessage, HumanMessage, ToolMessage, type BaseMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent, humanInTheLoopMiddleware } from 'langchain';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { parseDenial } from '../../src/adapters/denial.js';
import { guardedHumanInTheLoop, toLangChainTool, toLangChainTools } from '../../src/adapters/langchain.js';
import { z } from 'zod';
import { createGuard, ToolDeniedError, guardTool } from '../../src/index.js';
import { createWorld, type World } from './support/world.js';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.shutdown();
});

const toolMessage = (messages: readonly BaseMessage[], id: string): ToolMessage => {
  const found = messages.find((m): m is ToolMessage => ToolMessage.isInstance(m) && m.tool_call_id === id);
  if (found === undefined) throw new Error(`no ToolMessage for ${id}`);
  return found;
};

describe('LangChain.js (createAgent with a fake chat model)', () => {
  test('an allowed call runs with its just-in-time credential, bound to the LangChain tool-call id', async () => {
    const model = fakeModel()
      .respondWithTools([{ name: 'tickets.read', args: { ticketId: '4711' }, id: 'lc-read-1' }])
      .respond(new AIMessage('Ticket 4711 is open.'));
    const agent = createAgent({ model, tools: toLangChainTools([w.tools.readTicket]) });
    const result = await w.guard.withCapability(w.capability, () => agent.invoke({ messages: [new HumanMessage('What is ticket 4711?')] }));

    expect(result.messages.at(-1)?.content).toBe('Ticket 4711 is open.');
    expect(w.ran).toHaveLength(1);
    expect(w.ran[0]).toMatchObject({ tool: 'tickets.read', callId: 'lc-read-1', credentialCallId: 'lc-read-1' });
    const msg = toolMessage(result.messages, 'lc-read-1');
    expect(msg.status).toBe('success');
    expect(JSON.parse(msg.content as string)).toEqual({ id: '4711', subject: 'Refund request', status: 'open' });
    const span = await w.spanFor('lc-read-1');
    expect(span.attributes['tessera.decision']).toBe('allow');
    expect(span.attributes['tessera.credential.id']).toBe(w.ran[0]!.credentialJti);
  });

  test('a denied call is a ToolMessage with status "error" carrying the code; the body never runs', async () => {
    const model = fakeModel()
      .respondWithTools([{ name: 'tickets.read', args: { ticketId: '9999' }, id: 'lc-read-2' }])
      .respond(new AIMessage('I may not read it.'));
    const agent = createAgent({ model, tools: toLangChainTools([w.tools.readTicket]) });
    const result = await w.guard.withCapability(w.capability, () => agent.invoke({ messages: [new HumanMessage('Read ticket 9999')] }));

    expect(w.ran).toEqual([]);
    const msg = toolMessage(result.messages, 'lc-read-2');
    expect(msg.status).toBe('error');
    expect(parseDenial(msg.content)).toMatchObject({ denied: true, code: 'arguments_out_of_scope', tool: 'tickets.read', callId: 'lc-read-2' });
    expect(msg.content as string).not.toContain(w.capability);
    // The model's second turn saw the denial.
    const seen = model.calls.at(-1)!.messages.find((m) => ToolMessage.isInstance(m) && m.tool_call_id === 'lc-read-2');
    expect(parseDenial(seen?.content)?.code).toBe('arguments_out_of_scope');
    expect((await w.spanFor('lc-read-2')).attributes['tessera.denial.code']).toBe('arguments_out_of_scope');
  });

  test('onDenial "throw" propagates the ToolDeniedError out of a direct tool-call invocation', async () => {
    const readTicket = toLangChainTool(w.tools.readTicket, { onDenial: 'throw' });
    const error = await w.guard
      .withCapability(w.capability, () => readTicket.invoke({ type: 'tool_call', id: 'lc-read-3', name: 'tickets.read', args: { ticketId: '9999' } }))
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ToolDeniedError);
    expect((error as ToolDeniedError).code).toBe('arguments_out_of_scope');
    expect(w.ran).toEqual([]);
  });

  function refundAgent(threadId: string, callId: string) {
    const tools = toLangChainTools([w.tools.refund]);
    const middleware = guardedHumanInTheLoop(humanInTheLoopMiddleware, tools);
    const model = fakeModel()
      .respondWithTools([{ name: 'payments.refund', args: { orderId: 'o-1', amount: 20 }, id: callId }])
      .respond(new AIMessage('Done.'));
    const agent = createAgent({
      model,
      tools,
      middleware: [middleware],
      checkpointer: new MemorySaver(),
    });
    const config = { configurable: { thread_id: threadId } };
    return { agent, config, model };
  }

  test("approval through humanInTheLoopMiddleware: the human approves and the guard's approver sees it", async () => {
    const { agent, config } = refundAgent('thread-approve', 'lc-refund-1');
    const paused = await w.guard.withCapability(w.capability, () => agent.invoke({ messages: [new HumanMessage('Refund o-1')] }, config));
    expect(paused.__interrupt__).toHaveLength(1);
    expect(w.ran).toEqual([]);

    const resumed = await w.guard.withCapability(w.capability, () =>
      agent.invoke(new Command({ resume: { decisions: [{ type: 'approve' }] } }), config),
    );
    expect(resumed.messages.at(-1)?.content).toBe('Done.');
    expect(w.ran.map((r) => [r.tool, r.callId])).toEqual([['payments.refund', 'lc-refund-1']]);
    const span = await w.spanFor('lc-refund-1');
    expect(span.attributes['tessera.approval.decision']).toBe('approved');
    expect(span.attributes['tessera.approval.approver']).toBe('langchain human-in-the-loop');
  });

  test('approval through humanInTheLoopMiddleware: the human rejects and the tool never runs', async () => {
    const { agent, config } = refundAgent('thread-reject', 'lc-refund-2');
    await w.guard.withCapability(w.capability, () => agent.invoke({ messages: [new HumanMessage('Refund o-1')] }, config));
    const resumed = await w.guard.withCapability(w.capability, () =>
      agent.invoke(new Command({ resume: { decisions: [{ type: 'reject', message: 'No refunds today' }] } }), config),
    );
    expect(w.ran).toEqual([]);
    const msg = toolMessage(resumed.messages, 'lc-refund-2');
    expect(msg.status).toBe('error');
    expect(msg.content).toBe('No refunds today');
    expect((await w.spans()).filter((s) => s.attributes['gen_ai.tool.call.id'] === 'lc-refund-2')).toEqual([]);
  });

  test('the guard still enforces: without the human-in-the-loop middleware a high-risk call is denied approval_denied', async () => {
    const model = fakeModel()
      .respondWithTools([{ name: 'payments.refund', args: { orderId: 'o-1', amount: 20 }, id: 'lc-refund-3' }])
      .respond(new AIMessage('ok'));
    const agent = createAgent({ model, tools: toLangChainTools([w.tools.refund]) });
    const result = await w.guard.withCapability(w.capability, () => agent.invoke({ messages: [new HumanMessage('Refund o-1')] }));
    expect(w.ran).toEqual([]);
    const denial = parseDenial(toolMessage(result.messages, 'lc-refund-3'));
    expect(denial?.code).toBe('approval_denied');
    // The reason names what is missing, not a human's refusal.
    expect(denial?.reason).toContain('no decision recorded for call lc-refund-3: ');
    expect(denial?.reason).toContain('guardedHumanInTheLoop(humanInTheLoopMiddleware, tools)');
  });

  test('a call the capability denies is never put to a human: the agent does not pause', async () => {
    const tools = toLangChainTools([w.tools.refund]);
    const model = fakeModel()
      .respondWithTools([{ name: 'payments.refund', args: { orderId: 'o-1', amount: 5000 }, id: 'lc-refund-4' }])
      .respond(new AIMessage('ok'));
    const agent = createAgent({ model, tools, middleware: [guardedHumanInTheLoop(humanInTheLoopMiddleware, tools)], checkpointer: new MemorySaver() });
    const result = await w.guard.withCapability(w.capability, () => agent.invoke({ messages: [new HumanMessage('Refund o-1')] }, { configurable: { thread_id: 't4' } }));
    expect(result.__interrupt__).toBeUndefined();
    expect(parseDenial(toolMessage(result.messages, 'lc-refund-4'))?.code).toBe('arguments_out_of_scope');
    expect(w.ran).toEqual([]);
  });

  test('guardedHumanInTheLoop refuses at startup when the guard cannot receive the answer, and refuses other middleware', async () => {
    const other = createGuard({ audience: 'a', trust: { issuer: 'https://x.example', jwks: { keys: [] } } });
    const tool = guardTool(other, { name: 'x', description: 'x', input: z.object({}), risk: 'admin' }, () => 1);
    expect(() => guardedHumanInTheLoop(humanInTheLoopMiddleware, toLangChainTools([tool]))).toThrow(
      /guard of "x" cannot receive a human's answer: create the guard with \{ approver: approvals.approver \}/,
    );
    expect(() => guardedHumanInTheLoop(() => ({ name: 'other' }), toLangChainTools([w.tools.refund]))).toThrow(TypeError);
  });
});
