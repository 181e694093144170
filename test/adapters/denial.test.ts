/**
 * What the model reads on a denial, and reading it back: parseDenial accepts every shape a
 * framework hands back, and the model-facing text never lists the other tools a capability grants.
 */
import { z } from 'zod';
import { describe, expect, test } from 'vitest';
import { toAISDKTool } from '../../src/adapters/ai-sdk.js';
import { parseDenial } from '../../src/adapters/denial.js';
import { toLangChainTool } from '../../src/adapters/langchain.js';
import { toOpenAIAgentsTool, toOpenAIAgentsTools, type GuardedFunctionTool } from '../../src/adapters/openai-agents.js';
import { createAuthority, createGuard, ToolDeniedError, guardTool } from '../../src/index.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';

const denial = { denied: true, code: 'tool_not_granted', reason: 'r', tool: 't', callId: 'c', standards: [] };

describe('parseDenial', () => {
  test('reads the JSON text, the object, an MCP CallToolResult, its content array and a message with string content', () => {
    const text = JSON.stringify(denial);
    for (const shape of [
      text,
      denial,
      { content: [{ type: 'text', text }], isError: true },
      [{ type: 'text', text }],
      { content: [{ type: 'text', text: 'not json' }], _meta: { 'tessera/denial': denial } },
      { content: text },
    ]) {
      expect(parseDenial(shape)?.code).toBe('tool_not_granted');
    }
  });

  test('answers undefined for anything that is not a denial, however deeply nested', () => {
    let deep: unknown = [{ type: 'text', text: JSON.stringify(denial) }];
    for (let i = 0; i < 10_000; i++) deep = [deep];
    for (const other of [undefined, null, 'plain text', { denied: false }, { content: [] }, deep]) expect(parseDenial(other)).toBeUndefined();
  });
});

describe('the model does not learn what else the capability grants', async () => {
  const clock = manualClock();
  const authority = await createAuthority({ issuer: ISSUER, clock });
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, clock });
  const secretTool = guardTool(guard, { name: 'vault_read', description: 'x', input: z.object({}), risk: 'read' }, () => 1);
  const asked = guardTool(guard, { name: 'accounts_delete', description: 'x', input: z.object({ id: z.string() }), risk: 'read' }, () => 1);
  const capability = await authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i-1', purpose: 'p' }, tools: { vault_read: {} }, ttl: '5m' });
  void secretTool;
  const expected = 'the capability for intent "i-1" does not grant "accounts_delete"';

  test('the developer-facing error is the guard’s own; the adapters give the model the short reason', async () => {
    const error = await asked({ id: 'a' }, { capability }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolDeniedError);
    expect((error as ToolDeniedError).code).toBe('tool_not_granted');

    const ai = await guard.withCapability(capability, () => toAISDKTool(asked).execute!({ id: 'a' }, { toolCallId: 'c1', messages: [] }));
    expect(ai).toMatchObject({ code: 'tool_not_granted', reason: expected });

    const oa = toOpenAIAgentsTool(asked);
    const text = await guard.withCapability(capability, () =>
      oa.invoke({} as never, JSON.stringify({ id: 'a' }), { toolCall: { type: 'function_call', callId: 'c2', name: 'accounts_delete', arguments: '{}' } } as never),
    );
    expect(parseDenial(text)?.reason).toBe(expected);
    expect(String(text)).not.toContain('vault_read');

    const lc = await guard.withCapability(capability, () => toLangChainTool(asked).invoke({ type: 'tool_call', id: 'c3', name: 'accounts_delete', args: { id: 'a' } }));
    expect(parseDenial(lc)?.reason).toBe(expected);
    expect(JSON.stringify(lc.content)).not.toContain('vault_read');
  });

  test('tools with different argument types map to one OpenAI Agents tool type', () => {
    const mixed = [secretTool, asked];
    const one: GuardedFunctionTool[] = mixed.map((t) => toOpenAIAgentsTool(t));
    const many: GuardedFunctionTool[] = toOpenAIAgentsTools(mixed);
    expect([...one, ...many].map((t) => t.name)).toEqual(['vault_read', 'accounts_delete', 'vault_read', 'accounts_delete']);
    expect(() => toOpenAIAgentsTools([secretTool, secretTool])).toThrow(/two tools are named "vault_read"/);
  });
});
