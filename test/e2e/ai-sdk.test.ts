import { generateText, stepCountIs, type ModelMessage } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import type { LanguageModelV3GenerateResult } from '@ai-sdk/provider';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { toAISDKTool, toAISDKTools } from '../../src/adapters/ai-sdk.js';
import { z } from 'zod';
import { createGuard, ToolDeniedError, guardTool } from '../../src/index.js';
import { createWorld, type World } from './support/world.js';

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};
const callTool = (toolCallId: string, toolName: string, input: unknown): LanguageModelV3GenerateResult => ({
  content: [{ type: 'tool-call', toolCallId, toolName, input: JSON.stringify(input) }],
  finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
  usage,
  warnings: [],
});
const say = (text: string): LanguageModelV3GenerateResult => ({
  content: [{ type: 'text', text }],
  finishReason: { unified: 'stop', raw: 'stop' },
  usage,
  warnings: [],
});

/** The tool results the model was shown on its last turn, by tool-call id. */
function toolResultsSeenByModel(model: MockLanguageModelV3): Map<string, unknown> {
  const last = model.doGenerateCalls.at(-1);
  const out = new Map<string, unknown>();
  for (const m of last?.prompt ?? []) {
    if (m.role !== 'tool') continue;
    for (const part of m.content) if (part.type === 'tool-result') out.set(part.toolCallId, part.output);
  }
  return out;
}

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.shutdown();
});

describe('Vercel AI SDK (generateText with MockLanguageModelV3)', () => {
  test('an allowed call runs with its just-in-time credential, bound to the AI SDK tool-call id', async () => {
    const model = new MockLanguageModelV3({ doGenerate: [callTool('call-read-1', 'tickets.read', { ticketId: '4711' }), say('Ticket 4711 is open.')] });
    const result = await w.guard.withCapability(w.capability, () =>
      generateText({ model, tools: toAISDKTools([w.tools.readTicket]), prompt: 'What is ticket 4711 about?', stopWhen: stepCountIs(3) }),
    );

    expect(result.text).toBe('Ticket 4711 is open.');
    expect(w.ran).toHaveLength(1);
    expect(w.ran[0]).toMatchObject({ tool: 'tickets.read', callId: 'call-read-1', credentialCallId: 'call-read-1' });
    expect(toolResultsSeenByModel(model).get('call-read-1')).toEqual({
      type: 'json',
      value: { id: '4711', subject: 'Refund request', status: 'open' },
    });
    const span = await w.spanFor('call-read-1');
    expect(span.name).toBe('execute_tool tickets.read');
    expect(span.attributes['tessera.decision']).toBe('allow');
    expect(span.attributes['tessera.credential.id']).toBe(w.ran[0]!.credentialJti);
  });

  test('a denied call reaches the model as a structured denial and the tool body never runs', async () => {
    const model = new MockLanguageModelV3({ doGenerate: [callTool('call-read-2', 'tickets.read', { ticketId: '9999' }), say('I may not read that ticket.')] });
    const result = await w.guard.withCapability(w.capability, () =>
      generateText({ model, tools: toAISDKTools([w.tools.readTicket]), prompt: 'Read ticket 9999', stopWhen: stepCountIs(3) }),
    );

    expect(w.ran).toEqual([]);
    const seen = toolResultsSeenByModel(model).get('call-read-2') as { type: string; value: Record<string, unknown> };
    expect(seen.type).toBe('json');
    expect(seen.value).toMatchObject({ denied: true, code: 'arguments_out_of_scope', tool: 'tickets.read', callId: 'call-read-2' });
    expect(JSON.stringify(seen)).not.toContain(w.capability);
    expect(result.steps[0]!.toolResults[0]!.output).toMatchObject({ code: 'arguments_out_of_scope' });
    const span = await w.spanFor('call-read-2');
    expect(span.attributes['tessera.decision']).toBe('deny');
    expect(span.attributes['tessera.denial.code']).toBe('arguments_out_of_scope');
  });

  test('onDenial "throw" turns the denial into the AI SDK tool-error part', async () => {
    const model = new MockLanguageModelV3({ doGenerate: [callTool('call-read-3', 'tickets.read', { ticketId: '9999' }), say('done')] });
    const result = await w.guard.withCapability(w.capability, () =>
      generateText({
        model,
        tools: { 'tickets.read': toAISDKTool(w.tools.readTicket, { onDenial: 'throw' }) },
        prompt: 'Read ticket 9999',
        stopWhen: stepCountIs(3),
      }),
    );
    const errors = result.steps[0]!.content.filter((p) => p.type === 'tool-error');
    expect(errors).toHaveLength(1);
    const error = (errors[0] as { error: unknown }).error;
    expect(error).toBeInstanceOf(ToolDeniedError);
    expect((error as ToolDeniedError).code).toBe('arguments_out_of_scope');
    expect(w.ran).toEqual([]);
  });

  async function askForRefund(toolCallId: string) {
    const model = new MockLanguageModelV3({ doGenerate: [callTool(toolCallId, 'payments.refund', { orderId: 'o-1', amount: 20 }), say('Refund handled.')] });
    const tools = toAISDKTools([w.tools.refund]);
    const messages: ModelMessage[] = [{ role: 'user', content: 'Refund order o-1' }];
    const first = await w.guard.withCapability(w.capability, () => generateText({ model, tools, messages, stopWhen: stepCountIs(3) }));
    const request = first.content.find((p) => p.type === 'tool-approval-request');
    if (request?.type !== 'tool-approval-request') throw new Error('the AI SDK did not ask for approval');
    expect(request.toolCall.toolCallId).toBe(toolCallId);
    expect(w.ran).toEqual([]);
    return { model, tools, history: [...messages, ...first.response.messages], approvalId: request.approvalId };
  }

  test('approval through the AI SDK flow: an approved refund runs, and the span names the approval', async () => {
    const { model, tools, history, approvalId } = await askForRefund('call-refund-1');
    const answer: ModelMessage = { role: 'tool', content: [{ type: 'tool-approval-response', approvalId, approved: true }] };
    const second = await w.guard.withCapability(w.capability, () =>
      generateText({ model, tools, messages: [...history, answer], stopWhen: stepCountIs(3) }),
    );

    expect(second.text).toBe('Refund handled.');
    expect(w.ran.map((r) => [r.tool, r.callId])).toEqual([['payments.refund', 'call-refund-1']]);
    const span = await w.spanFor('call-refund-1');
    expect(span.attributes['tessera.decision']).toBe('allow');
    expect(span.attributes['tessera.approval.decision']).toBe('approved');
    expect(span.attributes['tessera.approval.approver']).toBe('ai-sdk tool approval');
  });

  test('approval through the AI SDK flow: a refused refund never reaches the guard or the tool', async () => {
    const { model, tools, history, approvalId } = await askForRefund('call-refund-2');
    const answer: ModelMessage = { role: 'tool', content: [{ type: 'tool-approval-response', approvalId, approved: false, reason: 'not this one' }] };
    await w.guard.withCapability(w.capability, () => generateText({ model, tools, messages: [...history, answer], stopWhen: stepCountIs(3) }));

    expect(w.ran).toEqual([]);
    expect(toolResultsSeenByModel(model).get('call-refund-2')).toEqual({ type: 'execution-denied', reason: 'not this one' });
    expect((await w.spans()).filter((s) => s.attributes['gen_ai.tool.call.id'] === 'call-refund-2')).toEqual([]);
  });

  test('the guard still enforces: a high-risk tool adapted without the approval flow is denied approval_denied', async () => {
    const model = new MockLanguageModelV3({ doGenerate: [callTool('call-refund-3', 'payments.refund', { orderId: 'o-1', amount: 20 }), say('ok')] });
    const tools = { 'payments.refund': toAISDKTool(w.tools.refund, { needsApproval: false }) };
    await w.guard.withCapability(w.capability, () => generateText({ model, tools, prompt: 'Refund order o-1', stopWhen: stepCountIs(3) }));

    expect(w.ran).toEqual([]);
    const seen = toolResultsSeenByModel(model).get('call-refund-3') as { value: { code: string; reason: string } };
    expect(seen.value.code).toBe('approval_denied');
    expect(seen.value.reason).toContain('no decision recorded for call call-refund-3: the AI SDK did not ask a human');
    const span = await w.spanFor('call-refund-3');
    expect(span.attributes['tessera.approval.decision']).toBe('denied');
  });

  test("the AI SDK's abort signal reaches the guard: an aborted call is denied and the body never runs", async () => {
    const readTicket = toAISDKTool(w.tools.readTicket);
    const controller = new AbortController();
    controller.abort();
    // Called the way generateText calls a tool's execute.
    const output = await w.guard.withCapability(w.capability, () =>
      readTicket.execute!({ ticketId: '4711' }, { toolCallId: 'call-aborted', messages: [], abortSignal: controller.signal }),
    );
    expect(output).toMatchObject({ denied: true, code: 'call_aborted', callId: 'call-aborted' });
    expect(w.ran).toEqual([]);
  });

  test('a refund the capability denies is not put to a human: no approval request, the model gets the denial', async () => {
    const model = new MockLanguageModelV3({ doGenerate: [callTool('call-refund-4', 'payments.refund', { orderId: 'o-1', amount: 5000 }), say('ok')] });
    const result = await w.guard.withCapability(w.capability, () =>
      generateText({ model, tools: toAISDKTools([w.tools.refund]), prompt: 'Refund order o-1', stopWhen: stepCountIs(3) }),
    );
    expect(result.content.filter((p) => p.type === 'tool-approval-request')).toEqual([]);
    expect(toolResultsSeenByModel(model).get('call-refund-4')).toMatchObject({ type: 'json', value: { code: 'arguments_out_of_scope' } });
    expect(w.ran).toEqual([]);
  });

  test('needsApproval on a guard that cannot receive the answer is refused when the tool is adapted', () => {
    const other = createGuard({ audience: 'a', trust: { issuer: 'https://x.example', jwks: { keys: [] } } });
    const tool = guardTool(other, { name: 'x', description: 'x', input: z.object({}), risk: 'admin' }, () => 1);
    expect(() => toAISDKTool(tool, { needsApproval: true })).toThrow(/toAISDKTool: tool "x": needsApproval makes the AI SDK ask a human, but the guard cannot receive the answer/);
    // Without framework approvals the AI SDK never asks: the guard's own approver (here none) decides.
    expect(toAISDKTool(tool).needsApproval).toBe(false);
  });

  test('options are checked when the tool is adapted', () => {
    expect(() => toAISDKTool(w.tools.readTicket, { onDenial: 'ignore' as never })).toThrow(TypeError);
  });
});
