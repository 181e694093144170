/**
 * MCP: a server whose tools are guarded. The agent's capability arrives as the request's bearer
 * token; high-risk calls ask the client's user through MCP elicitation.
 *
 * `npx tsx examples/mcp-server.ts` runs the server and a client in one process over the SDK's
 * in-memory transport. Over Streamable HTTP, put the SDK's `requireBearerAuth` in front of the
 * transport: the token it validates reaches every tool call as `extra.authInfo.token`.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { createElicitationApprover, parseDenial, registerGuardedTools } from '../src/adapters/mcp.js';
import { createAuthority, createGuard, type Guard, guardTool } from '../src/index.js';

/** The server side: guarded tools registered on an McpServer. */
export function createSupportServer(guard: Guard, elicitation: ReturnType<typeof createElicitationApprover>): McpServer {
  const server = new McpServer({ name: 'support-tools', version: '1.0.0' });
  const readTicket = guardTool(
    guard,
    { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    async ({ ticketId }, ctx) => ({ ticketId, status: 'open', credential: ctx.credential.id }),
  );
  const refund = guardTool(
    guard,
    { name: 'payments.refund', description: 'Refund an order', input: z.object({ orderId: z.string(), amount: z.number() }), risk: 'external' },
    async ({ orderId, amount }) => ({ orderId, refunded: amount }),
  );
  registerGuardedTools(server, [readTicket, refund], { elicitation });
  return server;
}

export async function mcpExample() {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const elicitation = createElicitationApprover();
  const guard = createGuard({ audience: 'support-app', trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() }, approver: elicitation.approver });
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/support',
    audience: 'support-app',
    intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
    tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } }, 'payments.refund': { args: { amount: { max: 50 } }, maxCalls: 1 } },
    ttl: '5m',
  });
  const server = createSupportServer(guard, elicitation);

  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  // Stands in for HTTP bearer auth: every request carries the agent's capability.
  const send = clientSide.send.bind(clientSide);
  clientSide.send = (message, options) => send(message, { ...options, authInfo: { token: capability, clientId: 'support-agent', scopes: [] } });
  const client = new Client({ name: 'support-agent', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  const asked: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params.message);
    return { action: 'accept', content: { approve: true } };
  });
  await server.connect(serverSide);
  await client.connect(clientSide);

  const callTool = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const read = await callTool('tickets.read', { ticketId: '4711' });
  const other = await callTool('tickets.read', { ticketId: '9999' });
  const refunded = await callTool('payments.refund', { orderId: 'o-1', amount: 20 });
  await client.close();
  await server.close();
  return {
    read: read.structuredContent,
    denied: { isError: other.isError, code: parseDenial(other)?.code },
    refunded: refunded.structuredContent,
    userWasAsked: asked.length,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await mcpExample());
