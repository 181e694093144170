import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ElicitRequestSchema, type CallToolResult, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, test } from 'vitest';
import { createElicitationApprover, DENIAL_META_KEY, registerGuardedTool, registerGuardedTools, type McpToolOptions } from '../../src/adapters/mcp.js';
import { parseDenial } from '../../src/adapters/denial.js';
import { createWorld, type World } from './support/world.js';

interface Connected {
  w: World;
  client: Client;
  /** JSON-RPC ids of the tools/call requests the client sent, in order. */
  callIds: string[];
  /** The elicitation messages the user was shown. */
  asked: string[];
}

let open: { client: Client; server: McpServer; w: World } | undefined;
afterEach(async () => {
  await open?.client.close();
  await open?.server.close();
  await open?.w.shutdown();
  open = undefined;
});

async function connect(options: {
  bearer?: 'capability' | string;
  sessionId?: string;
  adapter?: (w: World) => McpToolOptions;
  answer?: ElicitResult;
}): Promise<Connected> {
  const elicitation = createElicitationApprover();
  const w = await createWorld({ guard: { approver: elicitation.approver } });
  const server = new McpServer({ name: 'support-tools', version: '1.0.0' });
  registerGuardedTools(server, [w.tools.readTicket, w.tools.refund, w.tools.deleteAccount], { elicitation, ...options.adapter?.(w) });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  if (options.sessionId !== undefined) serverTransport.sessionId = options.sessionId;
  const callIds: string[] = [];
  const send = clientTransport.send.bind(clientTransport);
  // What an HTTP transport behind bearer auth does: every request carries the validated token.
  clientTransport.send = (message, opts) => {
    if ('method' in message && message.method === 'tools/call' && 'id' in message) callIds.push(String(message.id));
    const token = options.bearer === 'capability' ? w.capability : options.bearer;
    return send(message, { ...opts, ...(token === undefined ? {} : { authInfo: { token, clientId: 'support-agent', scopes: [] } }) });
  };
  const client = new Client({ name: 'agent', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  const asked: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params.message);
    return options.answer ?? { action: 'decline' };
  });
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  open = { client, server, w };
  return { w, client, callIds, asked };
}

const call = (c: Connected, name: string, args: Record<string, unknown>) => c.client.callTool({ name, arguments: args }) as Promise<CallToolResult>;

/** The guard's call id for a JSON-RPC request, read from the span that carries that request id. */
async function callIdOf(c: Connected, requestId: string): Promise<string> {
  const spans = (await c.w.spans()).filter((s) => s.attributes['mcp.request.id'] === requestId);
  expect(spans).toHaveLength(1);
  return String(spans[0]!.attributes['gen_ai.tool.call.id']);
}

describe('MCP (McpServer and Client over InMemoryTransport)', () => {
  test('tools are listed with their description, schema and risk annotations', async () => {
    const c = await connect({ bearer: 'capability' });
    const { tools } = await c.client.listTools();
    const refund = tools.find((t) => t.name === 'payments.refund');
    expect(refund?.description).toBe('Refund an order to the customer');
    expect(refund?.inputSchema.required).toEqual(['orderId', 'amount']);
    expect(refund?.annotations).toMatchObject({ readOnlyHint: false, openWorldHint: true });
    expect(tools.find((t) => t.name === 'tickets.read')?.annotations?.readOnlyHint).toBe(true);
  });

  test('an allowed call runs with its just-in-time credential; the capability is the bearer token', async () => {
    const c = await connect({ bearer: 'capability' });
    const result = await call(c, 'tickets.read', { ticketId: '4711' });

    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toEqual({ id: '4711', subject: 'Refund request', status: 'open' });
    expect(c.w.ran).toHaveLength(1);
    const callId = await callIdOf(c, c.callIds[0]!);
    // Without sessions the JSON-RPC id ("1" on every new connection) is not the call id.
    expect(callId).toMatch(/^mcp-[\w-]{22}$/);
    expect(c.w.ran[0]).toMatchObject({ tool: 'tickets.read', callId, credentialCallId: callId });
    const span = await c.w.spanFor(callId);
    expect(span.attributes['tessera.decision']).toBe('allow');
    expect(span.attributes['tessera.credential.id']).toBe(c.w.ran[0]!.credentialJti);
  });

  test('a denied call is an isError result carrying the code, and the tool body never runs', async () => {
    const c = await connect({ bearer: 'capability' });
    const result = await call(c, 'tickets.read', { ticketId: '9999' });

    expect(result.isError).toBe(true);
    const text = (result.content[0] as { type: 'text'; text: string }).text;
    const callId = await callIdOf(c, c.callIds[0]!);
    expect(parseDenial(text)).toMatchObject({ denied: true, code: 'arguments_out_of_scope', tool: 'tickets.read', callId });
    expect((result._meta?.[DENIAL_META_KEY] as { code: string }).code).toBe('arguments_out_of_scope');
    // The whole result and its content array read the same.
    expect(parseDenial(result)?.code).toBe('arguments_out_of_scope');
    expect(parseDenial(result.content)?.code).toBe('arguments_out_of_scope');
    expect(text).not.toContain(c.w.capability);
    expect(c.w.ran).toEqual([]);
    expect((await c.w.spanFor(callId)).attributes['tessera.denial.code']).toBe('arguments_out_of_scope');
  });

  test('the client is not told which other tools the capability grants', async () => {
    const c = await connect({ bearer: 'capability' });
    const result = await call(c, 'accounts.delete', { accountId: 'a-1' });
    expect(result.isError).toBe(true);
    const denial = parseDenial(result);
    expect(denial?.code).toBe('tool_not_granted');
    expect(denial?.reason).toBe('the capability for intent "ticket-4711" does not grant "accounts.delete"');
    expect(JSON.stringify(result)).not.toContain('tickets.read');
  });

  test('without a bearer token or a session capability the call is denied capability_missing', async () => {
    const c = await connect({});
    const result = await call(c, 'tickets.read', { ticketId: '4711' });
    expect(result.isError).toBe(true);
    const denial = parseDenial(result);
    expect(denial?.code).toBe('capability_missing');
    expect(denial?.reason).toBe('no capability came with this request: send the capability token as the bearer token (Authorization: Bearer <capability>) on the MCP connection');
    expect(c.w.ran).toEqual([]);
  });

  test('a forged bearer token is denied capability_invalid', async () => {
    const c = await connect({ bearer: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' });
    const result = await call(c, 'tickets.read', { ticketId: '4711' });
    expect(parseDenial((result.content[0] as { text: string }).text)?.code).toBe('capability_invalid');
    expect(c.w.ran).toEqual([]);
  });

  test("the capability can come from the server's session", async () => {
    const sessions = new Map<string, string>();
    const c = await connect({ sessionId: 'session-7', adapter: () => ({ capability: (extra) => (extra.sessionId ? sessions.get(extra.sessionId) : undefined) }) });
    sessions.set('session-7', c.w.capability);
    const result = await call(c, 'tickets.read', { ticketId: '4711' });
    expect(result.isError).toBeUndefined();
    expect(c.w.ran.map((r) => r.tool)).toEqual(['tickets.read']);
    // With a session, the call id is the session id and the JSON-RPC id.
    expect(await callIdOf(c, c.callIds[0]!)).toBe(`session-7:${c.callIds[0]}`);
  });

  test('a capability lookup that throws is a denial, never a fall back to an ambient capability', async () => {
    const c = await connect({
      adapter: () => ({
        capability: () => {
          throw new Error('session store down');
        },
      }),
    });
    const result = await c.w.guard.withCapability(c.w.capability, () => call(c, 'tickets.read', { ticketId: '4711' }));
    expect(parseDenial((result.content[0] as { text: string }).text)?.code).toBe('capability_missing');
    expect(c.w.ran).toEqual([]);
  });

  test('approval through MCP elicitation: the user accepts and the refund runs', async () => {
    const c = await connect({ bearer: 'capability', answer: { action: 'accept', content: { approve: true } } });
    const result = await call(c, 'payments.refund', { orderId: 'o-1', amount: 20 });

    expect(result.isError).toBeUndefined();
    expect(c.asked).toHaveLength(1);
    expect(c.asked[0]).toContain('payments.refund');
    expect(c.asked[0]).not.toContain(c.w.capability);
    const callId = await callIdOf(c, c.callIds[0]!);
    expect(c.w.ran.map((r) => [r.tool, r.callId])).toEqual([['payments.refund', callId]]);
    const span = await c.w.spanFor(callId);
    expect(span.attributes['tessera.approval.decision']).toBe('approved');
    expect(span.attributes['tessera.approval.approver']).toBe('mcp elicitation');
  });

  test('approval through MCP elicitation: the user declines and the call is denied approval_denied', async () => {
    const c = await connect({ bearer: 'capability', answer: { action: 'decline' } });
    const result = await call(c, 'payments.refund', { orderId: 'o-1', amount: 20 });

    expect(result.isError).toBe(true);
    expect(parseDenial((result.content[0] as { text: string }).text)).toMatchObject({ code: 'approval_denied', reason: 'the approver refused: the user chose decline' });
    expect(c.w.ran).toEqual([]);
  });

  test('accepting the form without ticking approve is not an approval', async () => {
    const c = await connect({ bearer: 'capability', answer: { action: 'accept', content: { approve: false } } });
    const result = await call(c, 'payments.refund', { orderId: 'o-1', amount: 20 });
    expect(parseDenial((result.content[0] as { text: string }).text)?.code).toBe('approval_denied');
    expect(c.w.ran).toEqual([]);
  });

  test('onDenial "throw" lets the MCP SDK report the thrown denial as its own isError result', async () => {
    const elicitation = createElicitationApprover();
    const w = await createWorld({ guard: { approver: elicitation.approver } });
    const server = new McpServer({ name: 'support-tools', version: '1.0.0' });
    registerGuardedTool(server, w.tools.readTicket, { onDenial: 'throw', capability: w.capability });
    const [ct, st] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: 'agent', version: '1.0.0' });
    await server.connect(st);
    await client.connect(ct);
    open = { client, server, w };
    const result = (await client.callTool({ name: 'tickets.read', arguments: { ticketId: '9999' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect((result.content[0] as { text: string }).text).toContain('(arguments_out_of_scope)');
    expect(result._meta).toBeUndefined();
    expect(w.ran).toEqual([]);
  });

  test('options are checked when the tool is registered', async () => {
    const w = await createWorld();
    open = { client: new Client({ name: 'x', version: '1' }), server: new McpServer({ name: 's', version: '1' }), w };
    expect(() => registerGuardedTool(open!.server, w.tools.readTicket, { capability: 42 as never })).toThrow(TypeError);
  });
});
