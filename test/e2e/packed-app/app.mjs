// A fresh app that installed the tessera-guard tarball: it imports only the package and its
// subpaths (plus the frameworks and their mock models), and wires approvals in one place each.
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent, fakeModel, humanInTheLoopMiddleware } from 'langchain';
import { generateText, stepCountIs } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { Agent, Runner, Usage } from '@openai/agents-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool } from 'tessera-guard';
import { createFrameworkApprovals, guardedHumanInTheLoop, parseDenial as lcDenial, toLangChainTools } from 'tessera-guard/langchain';
import { toAISDKTools, parseDenial as aiDenial } from 'tessera-guard/ai-sdk';
import { toOpenAIAgentsTools, parseDenial as oaDenial } from 'tessera-guard/openai-agents';
import { createElicitationApprover, parseDenial as mcpDenial, registerGuardedTools } from 'tessera-guard/mcp';

const ISSUER = 'https://authz.example.com';

async function world(approver) {
  const authority = await createAuthority({ issuer: ISSUER });
  const guard = createGuard({ audience: 'app', trust: { issuer: ISSUER, jwks: authority.jwks() }, approver });
  const ran = [];
  const read = guardTool(guard, { name: 'tickets_read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' }, ({ ticketId }) => {
    ran.push('tickets_read');
    return { ticketId, status: 'open' };
  });
  const refund = guardTool(
    guard,
    { name: 'payments_refund', description: 'Refund', input: z.object({ orderId: z.string(), amount: z.number() }), risk: 'external' },
    ({ amount }) => {
      ran.push('payments_refund');
      return { refunded: amount };
    },
  );
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/support',
    audience: 'app',
    intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
    tools: { tickets_read: { args: { ticketId: { eq: '4711' } } }, payments_refund: { args: { amount: { max: 50 } } } },
    ttl: '5m',
  });
  return { guard, read, refund, capability, ran };
}

async function langchain() {
  const approvals = createFrameworkApprovals();
  const w = await world(approvals.approver);
  const tools = toLangChainTools([w.read, w.refund]);
  const model = fakeModel()
    .respondWithTools([{ name: 'tickets_read', args: { ticketId: '4711' }, id: 'c1' }])
    .respondWithTools([{ name: 'tickets_read', args: { ticketId: '9999' }, id: 'c2' }])
    .respondWithTools([{ name: 'payments_refund', args: { orderId: 'o-1', amount: 20 }, id: 'c3' }])
    .respond(new AIMessage('done'));
  const agent = createAgent({ model, tools, middleware: [guardedHumanInTheLoop(humanInTheLoopMiddleware, tools)], checkpointer: new MemorySaver() });
  const config = { configurable: { thread_id: 't' } };
  return w.guard.withCapability(w.capability, async () => {
    const paused = await agent.invoke({ messages: [new HumanMessage('go')] }, config);
    const done = await agent.invoke(new Command({ resume: { decisions: [{ type: 'approve' }] } }), config);
    const msg = (id) => done.messages.find((m) => ToolMessage.isInstance(m) && m.tool_call_id === id);
    return { allowed: !lcDenial(msg('c1')), denied: lcDenial(msg('c2'))?.code, paused: paused.__interrupt__?.length ?? 0, ran: w.ran };
  });
}

const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 1, text: 1, reasoning: undefined } };
const turn = (toolCallId, toolName, input) => ({ content: [{ type: 'tool-call', toolCallId, toolName, input: JSON.stringify(input) }], finishReason: { unified: 'tool-calls', raw: undefined }, usage, warnings: [] });
const say = (text) => ({ content: [{ type: 'text', text }], finishReason: { unified: 'stop', raw: undefined }, usage, warnings: [] });

async function aiSdk() {
  const approvals = createFrameworkApprovals();
  const w = await world(approvals.approver);
  const tools = toAISDKTools([w.read, w.refund]);
  const model = new MockLanguageModelV3({ doGenerate: [turn('c1', 'tickets_read', { ticketId: '4711' }), turn('c2', 'tickets_read', { ticketId: '9999' }), turn('c3', 'payments_refund', { orderId: 'o-1', amount: 20 }), say('done')] });
  return w.guard.withCapability(w.capability, async () => {
    const messages = [{ role: 'user', content: 'go' }];
    const first = await generateText({ model, tools, messages, stopWhen: stepCountIs(5) });
    const request = first.content.find((p) => p.type === 'tool-approval-request');
    messages.push(...first.response.messages, { role: 'tool', content: [{ type: 'tool-approval-response', approvalId: request.approvalId, approved: true }] });
    await generateText({ model, tools, messages, stopWhen: stepCountIs(5) });
    return { allowed: !aiDenial(first.steps[0].toolResults[0].output), denied: aiDenial(first.steps[1].toolResults[0].output)?.code, paused: request ? 1 : 0, ran: w.ran };
  });
}

async function openAIAgents() {
  const approvals = createFrameworkApprovals();
  const w = await world(approvals.approver);
  const turns = [
    [{ type: 'function_call', callId: 'c1', name: 'tickets_read', arguments: '{"ticketId":"4711"}', status: 'completed' }],
    [{ type: 'function_call', callId: 'c2', name: 'tickets_read', arguments: '{"ticketId":"9999"}', status: 'completed' }],
    [{ type: 'function_call', callId: 'c3', name: 'payments_refund', arguments: '{"orderId":"o-1","amount":20}', status: 'completed' }],
    [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'done' }] }],
  ];
  const seen = [];
  const model = {
    async getResponse(request) {
      seen.push(request.input);
      return { usage: new Usage(), output: turns.shift() ?? [] };
    },
    async *getStreamedResponse() {
      throw new Error('not scripted');
    },
  };
  const agent = new Agent({ name: 'support', instructions: 'x', model, tools: toOpenAIAgentsTools([w.read, w.refund]) });
  const runner = new Runner({ tracingDisabled: true });
  return w.guard.withCapability(w.capability, async () => {
    const first = await runner.run(agent, 'go');
    // Read before resuming: the result's interruptions follow its state.
    const paused = first.interruptions.length;
    first.state.approve(first.interruptions[0]);
    await runner.run(agent, first.state);
    const out = (id) => seen.at(-1).find((i) => i.type === 'function_call_result' && i.callId === id)?.output;
    return { allowed: !oaDenial(out('c1')), denied: oaDenial(out('c2'))?.code, paused, ran: w.ran };
  });
}

async function mcp() {
  const elicitation = createElicitationApprover();
  const w = await world(elicitation.approver);
  const server = new McpServer({ name: 's', version: '1.0.0' });
  registerGuardedTools(server, [w.read, w.refund], { elicitation });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const send = clientSide.send.bind(clientSide);
  clientSide.send = (message, options) => send(message, { ...options, authInfo: { token: w.capability, clientId: 'agent', scopes: [] } });
  const client = new Client({ name: 'agent', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  let asked = 0;
  client.setRequestHandler(ElicitRequestSchema, async () => {
    asked++;
    return { action: 'accept', content: { approve: true } };
  });
  await server.connect(serverSide);
  await client.connect(clientSide);
  const a = await client.callTool({ name: 'tickets_read', arguments: { ticketId: '4711' } });
  const d = await client.callTool({ name: 'tickets_read', arguments: { ticketId: '9999' } });
  await client.callTool({ name: 'payments_refund', arguments: { orderId: 'o-1', amount: 20 } });
  await client.close();
  await server.close();
  return { allowed: !mcpDenial(a), denied: mcpDenial(d)?.code, paused: asked, ran: w.ran };
}

console.log(JSON.stringify({ langchain: await langchain(), aiSdk: await aiSdk(), openAIAgents: await openAIAgents(), mcp: await mcp() }));
