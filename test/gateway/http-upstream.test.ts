import { serve } from '@hono/node-server';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { parseDenial } from '../../src/adapters/denial.js';
import { verifyCallCredential, type Authority, type Guard } from '../../src/index.js';
import { authority, gatewayOptions, grant, serveHttp, serverEntry, text, type HttpGateway } from './support.js';

/** A Tessera-aware upstream over Streamable HTTP: it accepts a call only with a valid call credential. */
async function notesServer(guardOf: () => Guard) {
  const seen: Array<{ tool: string; ok: boolean; code?: string | undefined; token?: string }> = [];
  const handle = async (request: Request): Promise<Response> => {
    const server = new McpServer({ name: 'notes', version: '1' });
    server.registerTool(
      'add_note',
      { description: 'Add a note', inputSchema: { text: z.string().max(200) }, annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false } },
      async (args, extra) => {
        const token = extra.requestInfo?.headers['tessera-credential'];
        const guard = guardOf();
        try {
          await verifyCallCredential(String(token), { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'notes-api', store: guard.store, tool: 'notes.add_note' });
          seen.push({ tool: 'add_note', ok: true, token: String(token) });
          return { content: [{ type: 'text', text: `added: ${args.text}` }] };
        } catch (err) {
          seen.push({ tool: 'add_note', ok: false, code: (err as { code?: string }).code });
          return { content: [{ type: 'text', text: 'refused' }], isError: true };
        }
      },
    );
    const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: true });
    await server.connect(transport);
    return transport.handleRequest(request);
  };
  const http = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: handle, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/mcp`, seen, close: () => new Promise<void>((r) => http.close(() => r())) };
}

describe('an HTTP upstream receives the call credential', () => {
  let auth: Authority;
  let gw: HttpGateway;
  let notes: Awaited<ReturnType<typeof notesServer>>;

  beforeAll(async () => {
    auth = await authority();
    notes = await notesServer(() => gw.gateway.guard);
    gw = await serveHttp(gatewayOptions(auth, { notes: { http: { url: notes.url }, tools: { add_note: { credentialAudience: 'notes-api' } } } }));
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    await notes?.close();
  });

  test('a Tessera-aware upstream verifies the single-use credential; it is revoked once the call ends', async () => {
    const client = await gw.connect(await grant(auth, { 'notes.add_note': { maxCalls: 1 } }));
    const result = await client.callTool({ name: 'notes.add_note', arguments: { text: 'call the customer' } });
    expect(text(result)).toBe('added: call the customer');
    expect(notes.seen.map((s) => s.ok)).toEqual([true]);
    const guard = gw.gateway.guard;
    const replay = await verifyCallCredential(notes.seen[0]!.token!, {
      jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'notes-api', store: guard.store, tool: 'notes.add_note',
    }).then(() => 'accepted', (e: { code?: string }) => e.code);
    expect(replay).toBe('replay_detected');
    const second = await client.callTool({ name: 'notes.add_note', arguments: { text: 'again' } });
    expect(parseDenial(second)?.code).toBe('call_limit_exceeded');
    expect(notes.seen).toHaveLength(1);
  });
});

describe('the everything server: resources and prompts only when the config allows them; the fallback approver', () => {
  let auth: Authority;
  let open: HttpGateway;
  let closed: HttpGateway;
  const asked: string[] = [];

  beforeAll(async () => {
    auth = await authority();
    const everything = { command: process.execPath, args: [serverEntry('server-everything'), 'stdio'] };
    const base = gatewayOptions(auth, { ev: { stdio: everything, resources: true, prompts: true } });
    open = await serveHttp({
      ...base,
      guard: {
        ...base.guard,
        approver: async (request) => {
          asked.push(`${request.tool}:${request.risk}`);
          return { approved: false, approver: 'oncall@example.com', reason: 'not during the freeze' };
        },
      },
    });
    closed = await serveHttp(gatewayOptions(auth, { ev: { stdio: everything } }));
  }, 60_000);
  afterAll(async () => {
    await open?.close();
    await closed?.close();
  });

  test('allowed: resources are listed and read, prompts are namespaced', async () => {
    const client = await open.connect(await grant(auth, { 'ev.echo': {} }));
    const { resources } = await client.listResources();
    expect(resources.length).toBeGreaterThan(0);
    const read = await client.readResource({ uri: resources[0]!.uri });
    expect(read.contents[0]?.uri).toBe(resources[0]!.uri);
    const { prompts } = await client.listPrompts();
    expect(prompts.length).toBeGreaterThan(0);
    expect(prompts.every((p) => p.name.startsWith('ev.'))).toBe(true);
    const simple = prompts.find((p) => (p.arguments ?? []).every((a) => !a.required))!;
    const got = await client.getPrompt({ name: simple.name });
    expect(got.messages.length).toBeGreaterThan(0);
  });

  test('not allowed: the gateway offers neither', async () => {
    const client = await closed.connect(await grant(auth, { 'ev.echo': {} }));
    expect(client.getServerCapabilities()?.resources).toBeUndefined();
    expect(client.getServerCapabilities()?.prompts).toBeUndefined();
    await expect(client.listResources()).rejects.toThrow(/Method not found/);
  });

  test('an external tool asks the configured approver when the client cannot elicit; its refusal is approval_denied', async () => {
    const client = await open.connect(await grant(auth, { 'ev.gzip-file-as-resource': {}, 'ev.echo': {} }));
    const result = await client.callTool({ name: 'ev.gzip-file-as-resource', arguments: { name: 'x.gz', data: 'https://example.com/never' } });
    const denial = parseDenial(result);
    expect(denial?.code).toBe('approval_denied');
    expect(denial?.reason).toBe('the approver refused: not during the freeze');
    expect(asked).toEqual(['ev.gzip-file-as-resource:external']);
    expect(text(await client.callTool({ name: 'ev.echo', arguments: { message: 'hi' } }))).toBe('Echo: hi');
  });
});
