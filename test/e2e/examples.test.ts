import { describe, expect, test } from 'vitest';
import { aiSdkExample } from '../../examples/ai-sdk.js';
import { langChainExample } from '../../examples/langchain.js';
import { mcpExample } from '../../examples/mcp-server.js';
import { openAIAgentsExample } from '../../examples/openai-agents.js';

describe('adapter examples run as documented', () => {
  test('AI SDK', async () => {
    const r = await aiSdkExample();
    expect(r).toMatchObject({ read: { ticketId: '4711', status: 'open' }, denied: 'arguments_out_of_scope', approvalAskedFor: 'payments_refund', final: 'Refunded order o-1.' });
  });
  test('OpenAI Agents SDK', async () => {
    await expect(openAIAgentsExample()).resolves.toEqual({ denied: 'arguments_out_of_scope', approvalAskedFor: 'payments_refund', final: 'Refunded order o-1.' });
  });
  test('LangChain.js', async () => {
    await expect(langChainExample()).resolves.toEqual({ denied: 'arguments_out_of_scope', deniedStatus: 'error', paused: 1, final: 'Refunded order o-1.' });
  });
  test('MCP server', async () => {
    const r = await mcpExample();
    expect(r).toMatchObject({ read: { ticketId: '4711', status: 'open' }, denied: { isError: true, code: 'arguments_out_of_scope' }, refunded: { orderId: 'o-1', refunded: 20 }, userWasAsked: 1 });
  });
});
