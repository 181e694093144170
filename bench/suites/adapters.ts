/**
 * Adapters: what each adapter adds on top of the guard itself. Four things are timed in the same
 * rounds, in a new random order each round: the framework's own call of a bare tool, the same
 * framework call of the adapted guarded tool, the guarded tool called directly, and the bare
 * implementation called directly. The adapter's cost is
 * (guarded framework - bare framework) - (guarded direct - bare direct), as a median over rounds.
 * A real OpenTelemetry SDK pipeline (tracer provider, span processor, in-memory exporter) records
 * every guarded call, and the guard is wired with framework approvals as users wire it, so the
 * AI SDK and OpenAI Agents adapters pay for their preflight too.
 */
import { tool as langchainTool } from '@langchain/core/tools';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Agent, Runner, tool as openaiTool, Usage, type Model, type ModelResponse } from '@openai/agents-core';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { generateText, stepCountIs, type Tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { z } from 'zod';
import { createFrameworkApprovals } from '../../src/adapters/approvals.js';
import { toAISDKTool } from '../../src/adapters/ai-sdk.js';
import { toLangChainTool } from '../../src/adapters/langchain.js';
import { registerGuardedTool } from '../../src/adapters/mcp.js';
import { toOpenAIAgentsTool } from '../../src/adapters/openai-agents.js';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { median, round, type BenchSuite, type Harness } from '../harness.js';

type Entry = 'bare framework' | 'guarded framework' | 'guarded direct' | 'bare direct';

async function addedUs(
  h: Harness,
  name: string,
  entries: Record<Entry, () => Promise<unknown>>,
  iterations: number,
  afterRound: () => void,
  rounds = 9,
): Promise<number> {
  const names = Object.keys(entries) as Entry[];
  const batch = async (fn: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) await fn();
    return ((performance.now() - t0) * 1000) / iterations;
  };
  for (const n of names) await batch(entries[n]);
  afterRound();
  const series: Record<Entry, number[]> = { 'bare framework': [], 'guarded framework': [], 'guarded direct': [], 'bare direct': [] };
  for (let r = 0; r < rounds; r++) {
    const order = [...names];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const n of order) series[n].push(await batch(entries[n]));
    afterRound();
  }
  const added: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const at = (n: Entry) => series[n][r]!;
    added.push(at('guarded framework') - at('bare framework') - (at('guarded direct') - at('bare direct')));
  }
  for (const n of names) h.note(`adapters: ${name}, ${n}`, `${median(series[n]).toFixed(2)} µs/op`);
  const result = median(added);
  h.note(`adapters: ${name}, added by the adapter`, `${result.toFixed(2)} µs/op (target <= 10)`);
  return result;
}

const suite: BenchSuite = async (h) => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const clearSpans = () => exporter.reset();
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const approvals = createFrameworkApprovals();
  const guard = createGuard({
    audience: 'bench',
    trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() },
    approver: approvals.approver,
    telemetry: { tracer: provider.getTracer('bench') },
  });
  const input = z.object({ ticketId: z.string() });
  const impl = async (args: { ticketId: string }) => ({ id: args.ticketId, status: 'open' });
  const guarded = guardTool(guard, { name: 'tickets_read', description: 'Read a ticket', input, risk: 'read' }, impl);
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/bench',
    audience: 'bench',
    intent: { id: 'bench', purpose: 'Benchmark' },
    tools: { tickets_read: { args: { ticketId: { eq: '4711' } } } },
  });
  const args = { ticketId: '4711' };
  const within = <T>(fn: () => T): T => guard.withCapability(capability, fn);
  const figures: Record<string, number> = {};
  let d = 0;
  const direct = {
    'guarded direct': () => guarded(args, { capability, callId: `d-${d++}` }),
    'bare direct': () => impl(args),
  };

  // LangChain: StructuredTool.invoke with a ToolCall, as a ToolNode does it.
  {
    const bareTool = langchainTool(async (a: { ticketId: string }) => impl(a), { name: 'tickets_read', description: 'Read a ticket', schema: input });
    const guardedTool = toLangChainTool(guarded);
    let n = 0;
    const call = () => ({ type: 'tool_call' as const, id: `lc-${n++}`, name: 'tickets_read', args });
    figures.langchain_added_us = round(
      await addedUs(h, 'langchain tool.invoke(toolCall)', { 'bare framework': () => bareTool.invoke(call()), 'guarded framework': () => within(() => guardedTool.invoke(call())), ...direct }, 300, clearSpans),
    );
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
    figures.ai_sdk_added_us = round(
      await addedUs(h, 'ai-sdk generateText step with a tool call', { 'bare framework': () => run(bareTools), 'guarded framework': () => within(() => run(guardedTools)), ...direct }, 100, clearSpans),
    );
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
    figures.openai_agents_added_us = round(
      await addedUs(
        h,
        'openai-agents run with one tool call',
        { 'bare framework': () => runner.run(bareAgent, 'read 4711'), 'guarded framework': () => within(() => runner.run(guardedAgent, 'read 4711')), ...direct },
        60,
        clearSpans,
      ),
    );
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
    figures.mcp_added_us = round(
      await addedUs(h, 'mcp client.callTool (in-memory)', { 'bare framework': () => call(bareSide.client), 'guarded framework': () => call(guardedSide.client), ...direct }, 300, clearSpans),
    );
    for (const side of [bareSide, guardedSide]) {
      await side.client.close();
      await side.server.close();
    }
  }

  await provider.shutdown();
  return figures;
};

export default suite;
