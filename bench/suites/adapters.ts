/**
 * Adapters: what each adapter adds on top of the guard itself. Per framework, five things are
 * timed in the harness's rounds (CPU time, a new shuffled order each round, the Ed25519 floors in
 * the same rounds): the framework's own call of a bare tool, the same call of the adapted guarded
 * tool, the same call of a hand-written one-line tool that calls the guarded function, the
 * guarded function called directly, and the bare implementation called directly. Each figure is
 * a median over rounds of differences taken within a round:
 *
 * - `<framework>_added_us`: (adapted in the framework − bare in the framework) − (guarded direct −
 *   bare direct), what the target (≤ 10 µs) is stated against;
 * - `<framework>_wrapper_added_us`: the same with the hand-written wrapper in place of the adapter:
 *   what running the guard inside the framework costs with no adapter code at all;
 * - `<framework>_adapter_us`: adapted − hand-written wrapper, both in the framework: the adapter's
 *   own code (option handling, approvals hand-off, denial mapping, preflight for approvals);
 * - `ai_sdk_sign_inside_vs_sign`: one raw Ed25519 signature made inside an AI SDK tool, over the
 *   same signature in the floor's tight loop: how much dearer the same work is inside a framework.
 *
 * The guard records through the SDK that `bench/run.ts` registers (spans are counted in the
 * suite's telemetry row), and is wired with framework approvals as users wire it, so the AI SDK
 * and OpenAI Agents adapters pay for their preflight too.
 */
import { tool as langchainTool } from '@langchain/core/tools';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Agent, Runner, tool as openaiTool, Usage, type Model, type ModelResponse } from '@openai/agents-core';
import { generateText, stepCountIs, type Tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { z } from 'zod';
import { createFrameworkApprovals } from '../../src/adapters/approvals.js';
import { toAISDKTool } from '../../src/adapters/ai-sdk.js';
import { toLangChainTool } from '../../src/adapters/langchain.js';
import { registerGuardedTool } from '../../src/adapters/mcp.js';
import { toOpenAIAgentsTool } from '../../src/adapters/openai-agents.js';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { median, round, signOnce, type BenchSuite, type Harness } from '../harness.js';

type Entry = 'bare framework' | 'guarded framework' | 'wrapper framework' | 'guarded direct' | 'bare direct';

async function measure(
  h: Harness,
  name: string,
  entries: Record<Entry, () => Promise<unknown>>,
  iterations: number,
): Promise<{ added: number; wrapperAdded: number; adapter: number }> {
  const rows = Object.fromEntries(Object.entries(entries).map(([k, fn]) => [`adapters: ${name}, ${k}`, fn]));
  const r = await h.rounds(rows, { iterations, rounds: 9, warmup: iterations, floorIterations: 300 });
  const at = (e: Entry) => r.series[`adapters: ${name}, ${e}`]!;
  const perRound = (f: (k: number) => number) => median(at('bare direct').map((_, k) => f(k)));
  const direct = (k: number) => at('guarded direct')[k]! - at('bare direct')[k]!;
  const added = perRound((k) => at('guarded framework')[k]! - at('bare framework')[k]! - direct(k));
  const wrapperAdded = perRound((k) => at('wrapper framework')[k]! - at('bare framework')[k]! - direct(k));
  const adapter = perRound((k) => at('guarded framework')[k]! - at('wrapper framework')[k]!);
  h.note(
    `adapters: ${name}`,
    `added ${added.toFixed(1)} µs over the direct guard (target <= 10); with a hand-written wrapper ${wrapperAdded.toFixed(1)}; adapter code ${adapter.toFixed(1)}`,
  );
  return { added, wrapperAdded, adapter };
}

const suite: BenchSuite = async (h) => {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const approvals = createFrameworkApprovals();
  const guard = createGuard({
    audience: 'bench',
    trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() },
    approver: approvals.approver,
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
  const record = (key: string, m: { added: number; wrapperAdded: number; adapter: number }) => {
    figures[`${key}_added_us`] = round(m.added);
    figures[`${key}_wrapper_added_us`] = round(m.wrapperAdded);
    figures[`${key}_adapter_us`] = round(m.adapter);
  };
  let d = 0;
  const direct = {
    'guarded direct': () => guarded(args, { capability, callId: `d-${d++}` }),
    'bare direct': () => impl(args),
  };

  // LangChain: StructuredTool.invoke with a ToolCall, as a ToolNode does it.
  {
    const bareTool = langchainTool(async (a: { ticketId: string }) => impl(a), { name: 'tickets_read', description: 'Read a ticket', schema: input });
    const wrapperTool = langchainTool(async (a: { ticketId: string }, config) => guarded(a, { callId: config.toolCall?.id ?? `w-${d++}` }), {
      name: 'tickets_read',
      description: 'Read a ticket',
      schema: input,
    });
    const guardedTool = toLangChainTool(guarded);
    let n = 0;
    const call = () => ({ type: 'tool_call' as const, id: `lc-${n++}`, name: 'tickets_read', args });
    record(
      'langchain',
      await measure(
        h,
        'langchain tool.invoke(toolCall)',
        {
          'bare framework': () => bareTool.invoke(call()),
          'guarded framework': () => within(() => guardedTool.invoke(call())),
          'wrapper framework': () => within(() => wrapperTool.invoke(call())),
          ...direct,
        },
        300,
      ),
    );
  }

  // AI SDK: one generateText step in which the mock model calls the tool.
  {
    let n = 0;
    // The mock keeps every call it served; a history growing through the rounds would make each
    // round dearer than the last (more to scan in every collection), so it keeps only the latest.
    const model: MockLanguageModelV3 = new MockLanguageModelV3({
      doGenerate: async () => {
        model.doGenerateCalls.length = 0;
        return {
          content: [{ type: 'tool-call', toolCallId: `ai-${n++}`, toolName: 'tickets_read', input: JSON.stringify(args) }],
          finishReason: { unified: 'tool-calls', raw: undefined },
          usage: { inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 1, text: 1, reasoning: undefined } },
          warnings: [],
        };
      },
    });
    const bareTools: Record<string, Tool> = { tickets_read: { description: 'Read a ticket', inputSchema: input, execute: impl } as Tool };
    const wrapperTools: Record<string, Tool> = {
      tickets_read: { description: 'Read a ticket', inputSchema: input, execute: (a: { ticketId: string }, o: { toolCallId: string }) => guarded(a, { callId: o.toolCallId }) } as Tool,
    };
    const guardedTools: Record<string, Tool> = { tickets_read: toAISDKTool(guarded) as Tool };
    const run = (tools: Record<string, Tool>) => generateText({ model, tools, prompt: 'read 4711', stopWhen: stepCountIs(1) });
    record(
      'ai_sdk',
      await measure(
        h,
        'ai-sdk generateText step with a tool call',
        {
          'bare framework': () => run(bareTools),
          'guarded framework': () => within(() => run(guardedTools)),
          'wrapper framework': () => within(() => run(wrapperTools)),
          ...direct,
        },
        100,
      ),
    );
    // Why the guard costs more inside a framework than alone: the same raw signature, made in the
    // tool's execute, costs more there than in a tight loop (the framework's work between two
    // signatures leaves the caches cold).
    const signTools: Record<string, Tool> = {
      tickets_read: { description: 'Read a ticket', inputSchema: input, execute: async (a: { ticketId: string }) => (signOnce(), impl(a)) } as Tool,
    };
    const BARE = 'adapters: ai-sdk step, bare tool';
    const SIGN = 'adapters: ai-sdk step, tool that makes one raw Ed25519 signature';
    const r = await h.rounds({ [BARE]: () => run(bareTools), [SIGN]: () => run(signTools) }, { iterations: 100, rounds: 9, warmup: 100, floorIterations: 300 });
    const inside = r.ratio(SIGN, { minus: BARE });
    h.note('adapters: one Ed25519 signature inside an AI SDK tool / the same signature alone', inside.toFixed(2));
    figures.ai_sdk_sign_inside_vs_sign = round(inside);
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
    const wrapperTool = openaiTool({
      name: 'tickets_read',
      description: 'Read a ticket',
      parameters: input,
      execute: async (a, _ctx, details) => JSON.stringify(await guarded(a, { callId: details?.toolCall?.callId ?? `w-${d++}` })),
    });
    const bareAgent = new Agent({ name: 'bench', model, tools: [bareTool], toolUseBehavior: 'stop_on_first_tool' });
    const wrapperAgent = new Agent({ name: 'bench', model, tools: [wrapperTool], toolUseBehavior: 'stop_on_first_tool' });
    const guardedAgent = new Agent({ name: 'bench', model, tools: [toOpenAIAgentsTool(guarded)], toolUseBehavior: 'stop_on_first_tool' });
    record(
      'openai_agents',
      await measure(
        h,
        'openai-agents run with one tool call',
        {
          'bare framework': () => runner.run(bareAgent, 'read 4711'),
          'guarded framework': () => within(() => runner.run(guardedAgent, 'read 4711')),
          'wrapper framework': () => within(() => runner.run(wrapperAgent, 'read 4711')),
          ...direct,
        },
        60,
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
    const result = (v: { id: string; status: string }) => ({ content: [{ type: 'text' as const, text: JSON.stringify(v) }], structuredContent: v });
    const bareSide = await connect((s) => s.registerTool('tickets_read', { description: 'Read a ticket', inputSchema: input }, async (a) => result(await impl(a))));
    const wrapperSide = await connect((s) =>
      s.registerTool('tickets_read', { description: 'Read a ticket', inputSchema: input }, async (a, extra) =>
        result(await guarded(a, { capability: extra.authInfo?.token ?? '', callId: `mcp-${d++}` })),
      ),
    );
    const guardedSide = await connect((s) => registerGuardedTool(s, guarded));
    const call = (c: Client) => c.callTool({ name: 'tickets_read', arguments: args });
    record(
      'mcp',
      await measure(
        h,
        'mcp client.callTool (in-memory)',
        {
          'bare framework': () => call(bareSide.client),
          'guarded framework': () => call(guardedSide.client),
          'wrapper framework': () => call(wrapperSide.client),
          ...direct,
        },
        300,
      ),
    );
    for (const side of [bareSide, wrapperSide, guardedSide]) {
      await side.client.close();
      await side.server.close();
    }
  }

  return figures;
};

export default suite;
