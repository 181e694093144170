import { Agent, Runner, ToolCallError, Usage, type AgentInputItem, type Model, type ModelRequest, type ModelResponse } from '@openai/agents-core';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { toOpenAIAgentsTool } from '../../src/adapters/openai-agents.js';
import { parseDenial } from '../../src/adapters/denial.js';
import { ToolDeniedError } from '../../src/index.js';
import { createWorld, type World } from './support/world.js';

/** A model that answers from a script, one response per turn, and remembers what it was shown. */
class ScriptedModel implements Model {
  readonly requests: ModelRequest[] = [];
  constructor(private readonly script: ModelResponse['output'][]) {}
  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    this.requests.push(request);
    const output = this.script.shift();
    if (output === undefined) throw new Error('the script has no more turns');
    return { usage: new Usage(), output, responseId: `resp-${this.requests.length}` };
  }
  // eslint-disable-next-line require-yield
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error('streaming is not scripted');
  }
  /** The tool outputs the model was shown on its last turn, by call id. */
  toolOutputs(): Map<string, string> {
    const out = new Map<string, string>();
    const input = this.requests.at(-1)?.input;
    for (const item of (Array.isArray(input) ? input : []) as AgentInputItem[]) {
      if (item.type !== 'function_call_result') continue;
      const o = item.output as unknown;
      out.set(item.callId, typeof o === 'string' ? o : (o as { text?: string }).text ?? JSON.stringify(o));
    }
    return out;
  }
}

const callTool = (callId: string, name: string, args: unknown): ModelResponse['output'] => [
  { type: 'function_call', callId, name, arguments: JSON.stringify(args), status: 'completed' },
];
const say = (text: string): ModelResponse['output'] => [
  { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text }] },
];

let w: World;
const runner = new Runner({ tracingDisabled: true });
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.shutdown();
});

describe('OpenAI Agents SDK (Runner with a scripted model)', () => {
  test('an allowed call runs with its just-in-time credential, bound to the SDK call id', async () => {
    const readTicket = toOpenAIAgentsTool(w.tools.readTicket);
    const model = new ScriptedModel([callTool('call_read_1', readTicket.name, { ticketId: '4711' }), say('Ticket 4711 is open.')]);
    const agent = new Agent({ name: 'support', instructions: 'Help', model, tools: [readTicket] });
    const result = await w.guard.withCapability(w.capability, () => runner.run(agent, 'What is ticket 4711 about?'));

    expect(readTicket.name).toBe('tickets_read');
    expect(result.finalOutput).toBe('Ticket 4711 is open.');
    expect(w.ran).toHaveLength(1);
    expect(w.ran[0]).toMatchObject({ tool: 'tickets.read', callId: 'call_read_1', credentialCallId: 'call_read_1' });
    expect(JSON.parse(model.toolOutputs().get('call_read_1')!)).toEqual({ id: '4711', subject: 'Refund request', status: 'open' });
    const span = await w.spanFor('call_read_1');
    expect(span.attributes['tessera.decision']).toBe('allow');
    expect(span.attributes['tessera.credential.id']).toBe(w.ran[0]!.credentialJti);
  });

  test('a denied call reaches the model as a structured denial (not the SDK generic error) and the body never runs', async () => {
    const readTicket = toOpenAIAgentsTool(w.tools.readTicket);
    const model = new ScriptedModel([callTool('call_read_2', readTicket.name, { ticketId: '9999' }), say('I may not read it.')]);
    const agent = new Agent({ name: 'support', instructions: 'Help', model, tools: [readTicket] });
    await w.guard.withCapability(w.capability, () => runner.run(agent, 'Read ticket 9999'));

    expect(w.ran).toEqual([]);
    const denial = parseDenial(model.toolOutputs().get('call_read_2'));
    expect(denial).toMatchObject({ denied: true, code: 'arguments_out_of_scope', tool: 'tickets.read', callId: 'call_read_2' });
    expect(model.toolOutputs().get('call_read_2')).not.toContain(w.capability);
    const span = await w.spanFor('call_read_2');
    expect(span.attributes['tessera.denial.code']).toBe('arguments_out_of_scope');
  });

  test('onDenial "throw" sets errorFunction to null, so the run rejects with a ToolCallError wrapping the ToolDeniedError', async () => {
    const readTicket = toOpenAIAgentsTool(w.tools.readTicket, { onDenial: 'throw' });
    const model = new ScriptedModel([callTool('call_read_3', readTicket.name, { ticketId: '9999' }), say('unreachable')]);
    const agent = new Agent({ name: 'support', instructions: 'Help', model, tools: [readTicket] });
    const error = await w.guard.withCapability(w.capability, () => runner.run(agent, 'Read ticket 9999')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ToolCallError);
    const denial = (error as ToolCallError).error;
    expect(denial).toBeInstanceOf(ToolDeniedError);
    expect((denial as ToolDeniedError).code).toBe('arguments_out_of_scope');
    expect(w.ran).toEqual([]);
  });

  async function interruptedRefund(callId: string) {
    const refund = toOpenAIAgentsTool(w.tools.refund);
    const model = new ScriptedModel([callTool(callId, refund.name, { orderId: 'o-1', amount: 20 }), say('Refund handled.')]);
    const agent = new Agent({ name: 'support', instructions: 'Help', model, tools: [refund] });
    const first = await w.guard.withCapability(w.capability, () => runner.run(agent, 'Refund order o-1'));
    expect(first.interruptions).toHaveLength(1);
    expect(w.ran).toEqual([]);
    return { agent, model, first, item: first.interruptions[0]! };
  }

  test('approval through interruptions: state.approve(item) lets the guarded call run', async () => {
    const { agent, first, item } = await interruptedRefund('call_refund_1');
    first.state.approve(item);
    const second = await w.guard.withCapability(w.capability, () => runner.run(agent, first.state));

    expect(second.finalOutput).toBe('Refund handled.');
    expect(w.ran.map((r) => [r.tool, r.callId])).toEqual([['payments.refund', 'call_refund_1']]);
    const span = await w.spanFor('call_refund_1');
    expect(span.attributes['tessera.approval.decision']).toBe('approved');
    expect(span.attributes['tessera.approval.approver']).toBe('openai-agents approval');
  });

  test('approval through interruptions: state.reject(item) never reaches the guard or the tool', async () => {
    const { agent, model, first, item } = await interruptedRefund('call_refund_2');
    first.state.reject(item, { message: 'Refused by a human' });
    await w.guard.withCapability(w.capability, () => runner.run(agent, first.state));

    expect(w.ran).toEqual([]);
    expect(model.toolOutputs().get('call_refund_2')).toBe('Refused by a human');
    expect((await w.spans()).filter((s) => s.attributes['gen_ai.tool.call.id'] === 'call_refund_2')).toEqual([]);
  });

  test('the guard still enforces: a high-risk tool adapted without needsApproval is denied approval_denied', async () => {
    const refund = toOpenAIAgentsTool(w.tools.refund, { needsApproval: false });
    const model = new ScriptedModel([callTool('call_refund_3', refund.name, { orderId: 'o-1', amount: 20 }), say('ok')]);
    const agent = new Agent({ name: 'support', instructions: 'Help', model, tools: [refund] });
    await w.guard.withCapability(w.capability, () => runner.run(agent, 'Refund order o-1'));

    expect(w.ran).toEqual([]);
    expect(parseDenial(model.toolOutputs().get('call_refund_3'))?.code).toBe('approval_denied');
  });

  test('a tool whose input is not an object schema is refused when adapted', () => {
    const bad = Object.assign(() => Promise.resolve(), { definition: { ...w.tools.readTicket.definition, input: { safeParse() {} } } });
    expect(() => toOpenAIAgentsTool(bad as never)).toThrow(/z\.object/);
  });
});
