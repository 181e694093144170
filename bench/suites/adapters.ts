/**
 * Adapters: each framework's own tool invocation, bare versus guarded, in the same run. The
 * guarded side pays for the whole guard (cached capability, policy, a minted and revoked
 * credential); the figure to watch is its share of what the framework already costs.
 */
import { tool as langchainTool } from '@langchain/core/tools';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Agent, Runner, tool as openaiTool, Usage, type Model, type ModelResponse } from '@openai/agents-core';
import { generateText, stepCountIs, type Tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { z } from 'zod';
import { toAISDKTool } from '../../src/adapters/ai-sdk.js';
import { toLangChainTool } from '../../src/adapters/langchain.js';
import { registerGuardedTool } from '../../src/adapters/mcp.js';
import { toOpenAIAgentsTool } from '../../src/adapters/openai-agents.js';
import { createAuthority, createGuard } from '../../src/index.js';
import { median, round, type BenchSuite, type Harness } from '../harness.js';

const pct = (guarded: number, bare: number): number => round(((guarded - bare) / bare) * 100, 1);

/**
 * Bare and guarded alternate round by round after a shared warm-up, so that JIT warm-up and
 * machine noise fall on both sides alike instead of on whichever ran first.
 */
async function compare(h: Harness, name: string, bare: () => Promise<unknown>, guarded: () => Promise<unknown>, iterations: number, rounds = 7) {
  const batch = async (fn: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) await fn();
    return ((performance.now() - t0) * 1000) / iterations;
  };
  await batch(bare);
  await batch(guarded);
  const b: number[] = [];
  const g: number[] = [];
  for (let r = 0; r < rounds; r++) {
    b.push(await batch(bare));
    g.push(await batch(guarded));
  }
  const result = { bare: median(b), guarded: median(g) };
  h.note(`adapters: ${name}, bare`, `${result.bare.toFixed(2)} µs/op`);
  h.note(`adapters: ${name}, guarded`, `${result.guarded.toFixed(2)} µs/op (+${(result.guarded - result.bare).toFixed(1)} µs)`);
  return result;
}

const suite: BenchSuite = async (h) => {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const guard = createGuard({ audience: 'bench', trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() } });
  const input = z.object({ ticketId: z.string() });
  const impl = async (args: { ticketId: string }) => ({ id: args.ticketId, status: 'open' });
  const guarded = guard.tool({ name: 'tickets_read', description: 'Read a ticket', input, risk: 'read' }, impl);
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/bench',
    audience: 'bench',
    intent: { id: 'bench', purpose: 'Benchmark' },
    tools: { tickets_read: { args: { ticketId: { eq: '4711' } } } },
  });
  const args = { ticketId: '4711' };
  const within = <T>(fn: () => T): T => guard.withCapability(capability, fn);
  const figures: Record<string, number> = {};

  // LangChain: StructuredTool.invoke with a ToolCall, as a ToolNode does it.
  {
    const bareTool = langchainTool(async (a: { ticketId: string }) => impl(a), { name: 'tickets_read', description: 'Read a ticket', schema: input });
    const guardedTool = toLangChainTool(guarded);
    let n = 0;
    const call = () => ({ type: 'tool_call' as const, id: `lc-${n++}`, name: 'tickets_read', args });
    const r = await compare(h, 'langchain tool.invoke(toolCall)', () => bareTool.invoke(call()), () => within(() => guardedTool.invoke(call())), 500);
    figures.langchain_guard_overhead_pct = pct(r.guarded, r.bare);
  }

  // AI SDK: one generateText step in which the mock model calls the tool.
  {
    let n = 0;
    const model = new MockLanguageModelV3({
      doGenerate: async () => ({
        content: [{ type: 'tool-call', toolCallId: `ai-${n++}`, toolName: 'tickets_read', input: JSON.stringify(args) }],
        finishReason: { unified: 'tool-calls', raw: undefined },
        usage: { inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 1, text: 1, reasoning: undefined } },
        warnings: [],
      }),
    });
    const bareTools: Record<string, Tool> = { tickets_read: { description: 'Read a ticket', inputSchema: input, execute: impl } as Tool };
    const guardedTools: Record<string, Tool> = { tickets_read: toAISDKTool(guarded) as Tool };
    const run = (tools: Record<string, Tool>) => generateText({ model, tools, prompt: 'read 4711', stopWhen: stepCountIs(1) });
    const r = await compare(h, 'ai-sdk generateText step with a tool call', () => run(bareTools), () => within(() => run(guardedTools)), 150);
    figures.ai_sdk_guard_overhead_pct = pct(r.guarded, r.bare);
  }

  // OpenAI Agents: a run whose scripted model calls the tool once; the run stops on the tool.
  {
    let n = 0;
    const model: Model = {
      async getResponse(): Promise<ModelResponse> {
        return { usage: new Usage(), output: [{ type: 'function_call', callId: `oa-${n++}`, name: 'tickets_read', arguments: JSON.stringify(args), status: 'completed' }] };
      },
      // eslint-disable-next-line require-yield
      async *getStreamedResponse() {
        throw new Error('not used');
      },
    };
    const runner = new Runner({ tracingDisabled: true });
    const bareTool = openaiTool({ name: 'tickets_read', description: 'Read a ticket', parameters: input, execute: async (a) => JSON.stringify(await impl(a)) });
    const bareAgent = new Agent({ name: 'bench', model, tools: [bareTool], toolUseBehavior: 'stop_on_first_tool' });
    const guardedAgent = new Agent({ name: 'bench', model, tools: [toOpenAIAgentsTool(guarded)], toolUseBehavior: 'stop_on_first_tool' });
    const r = await compare(h, 'openai-agents run with one tool call', () => runner.run(bareAgent, 'read 4711'), () => within(() => runner.run(guardedAgent, 'read 4711')), 100);
    figures.openai_agents_guard_overhead_pct = pct(r.guarded, r.bare);
  }

  // MCP: client.callTool over an in-memory transport; the capability rides as the bearer token.
  {
    const connect = async (register: (server: McpServer) => void) => {
      const server = new McpServer({ name: 'bench', version: '1.0.0' });
      register(server);
      const [ct, st] = InMemoryTransport.createLinkedPair();
      const send = ct.send.bind(ct);
      ct.send = (m, o) => send(m, { ...o, authInfo: { token: capability, clientId: 'bench', scopes: [] } });
      const client = new Client({ name: 'bench', version: '1.0.0' });
      await server.connect(st);
      await client.connect(ct);
      return { client, server };
    };
    const bareSide = await connect((s) =>
      s.registerTool('tickets_read', { description: 'Read a ticket', inputSchema: input }, async (a) => {
        const v = await impl(a);
        return { content: [{ type: 'text', text: JSON.stringify(v) }], structuredContent: v };
      }),
    );
    const guardedSide = await connect((s) => registerGuardedTool(s, guarded));
    const call = (c: Client) => c.callTool({ name: 'tickets_read', arguments: args });
    const r = await compare(h, 'mcp client.callTool (in-memory)', () => call(bareSide.client), () => call(guardedSide.client), 500);
    figures.mcp_guard_overhead_pct = pct(r.guarded, r.bare);
    for (const side of [bareSide, guardedSide]) {
      await side.client.close();
      await side.server.close();
    }
  }

  for (const [k, v] of Object.entries(figures)) h.note(`adapters: ${k}`, `${v}%`);
  return figures;
};

export default suite;
