import { fileURLToPath } from 'node:url';
import { CallToolResultSchema, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseDenial } from '../../src/adapters/denial.js';
import { createMcpGateway, riskFromAnnotations } from '../../src/gateway/index.js';
import type { Authority } from '../../src/index.js';
import { authority, gatewayOptions, grant, serveHttp, serverEntry, text, type HttpGateway } from './support.js';

const EDGE = fileURLToPath(new URL('./fixtures/edge-server.mjs', import.meta.url));

describe('upstream tools the gateway must not serve as they are', () => {
  let auth: Authority;
  let gw: HttpGateway;
  const events: string[] = [];

  beforeAll(async () => {
    auth = await authority();
    gw = await serveHttp(
      gatewayOptions(
        auth,
        { edge: { stdio: { command: process.execPath, args: [EDGE] } } },
        { timeouts: { requestMs: 400 }, restart: { initialMs: 50, maxMs: 400, resetAfterMs: 60_000 }, onEvent: (e) => events.push(e) },
      ),
    );
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
  });

  test('tools whose schema the converter refuses are hidden and reported, each with its reason', () => {
    const refused = new Map(gw.gateway.refused().map((r) => [r.name, r.reason]));
    expect([...refused.keys()].sort()).toEqual(['edge.bad name!', 'edge.conditional', 'edge.not_object', 'edge.remote_ref', 'edge.vendor_keyword']);
    expect(refused.get('edge.conditional')).toBe('inputSchema.if: the keyword "if" is not enforced, so the schema is refused');
    expect(refused.get('edge.vendor_keyword')).toBe('inputSchema.properties.a.x-max-risk: the keyword "x-max-risk" is not enforced, so the schema is refused');
    expect(refused.get('edge.remote_ref')).toBe('inputSchema.properties.a.$ref: only local references (#/...) are supported');
    expect(refused.get('edge.not_object')).toBe('not a valid MCP tool definition');
    expect(gw.gateway.tools().map((t) => t.name).sort()).toEqual(['edge.bad_result', 'edge.crash', 'edge.echo_args', 'edge.hang', 'edge.no_hints']);
    expect(events).toContain('tool "edge.conditional" of upstream "edge" is hidden: inputSchema.if: the keyword "if" is not enforced, so the schema is refused');
  });

  test('a refused tool granted anyway is not listed, and calling it is tool_not_granted', async () => {
    const client = await gw.connect(await grant(auth, { 'edge.conditional': {}, 'edge.echo_args': {} }));
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['edge.echo_args']);
    const result = await client.callTool({ name: 'edge.conditional', arguments: { a: 'x' } });
    expect(parseDenial(result)?.code).toBe('tool_not_granted');
  });

  test('arguments the upstream schema does not name are refused arguments_invalid', async () => {
    const client = await gw.connect(await grant(auth, { 'edge.echo_args': {} }));
    const ok = await client.callTool({ name: 'edge.echo_args', arguments: { msg: 'hi' } });
    expect(JSON.parse(text(ok))).toEqual({ msg: 'hi' });
    const extra = await client.callTool({ name: 'edge.echo_args', arguments: { msg: 'hi', sneaky: '/etc/passwd' } });
    expect(parseDenial(extra)?.code).toBe('arguments_invalid');
  });

  test('an upstream result that is not a valid tools/call result is an MCP error, never passed on', async () => {
    const client = await gw.connect(await grant(auth, { 'edge.bad_result': {} }));
    const err = await client.callTool({ name: 'edge.bad_result', arguments: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).message).toBe('MCP error -32603: upstream "edge" failed during tools/call bad_result');
  });

  test('a tools/call asking for a task is refused before any handler: the gateway does not declare tasks', async () => {
    const client = await gw.connect(await grant(auth, { 'edge.echo_args': {} }));
    const err = await client
      .request({ method: 'tools/call', params: { name: 'edge.echo_args', arguments: { msg: 'hi' }, task: { ttl: 60_000 } } }, CallToolResultSchema)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(ErrorCode.InternalError);
    expect((err as McpError).message).toBe('MCP error -32603: Server does not support task creation (required for tools/call)');
  });

  test('an upstream that hangs hits the deadline and the client gets an MCP error', async () => {
    const client = await gw.connect(await grant(auth, { 'edge.hang': {} }));
    const err = await client.callTool({ name: 'edge.hang', arguments: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(ErrorCode.RequestTimeout);
    expect((err as McpError).message).toBe('MCP error -32001: upstream "edge" did not answer tools/call hang within 400 ms');
  });

  test('a dying stdio upstream is an MCP error, then it is restarted with doubling backoff and serves again', async () => {
    const client = await gw.connect(await grant(auth, { 'edge.crash': {}, 'edge.echo_args': {} }));
    const upstream = gw.gateway.upstream('edge')!;
    const firstPid = upstream.pid;
    const died = await client.callTool({ name: 'edge.crash', arguments: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((died as McpError).code).toBe(ErrorCode.InternalError);
    expect((died as McpError).message).toBe('MCP error -32603: upstream "edge" closed the connection during tools/call crash');
    // Down: its tools answer with an MCP error, the gateway keeps serving.
    expect(upstream.state).not.toBe('up');
    const whileDown = await client.callTool({ name: 'edge.echo_args', arguments: { msg: 'x' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((whileDown as McpError).message).toBe('MCP error -32603: upstream "edge" is not available (restarting); try again shortly');
    expect(upstream.nextBackoffMs).toBe(100);
    await expect.poll(() => upstream.state, { timeout: 10_000 }).toBe('up');
    expect(upstream.pid).not.toBe(firstPid);
    expect(JSON.parse(text(await client.callTool({ name: 'edge.echo_args', arguments: { msg: 'back' } })))).toEqual({ msg: 'back' });
    // A second crash soon after waits twice as long, up to maxMs.
    await client.callTool({ name: 'edge.crash', arguments: {} }).catch(() => undefined);
    expect(upstream.nextBackoffMs).toBe(200);
    await expect.poll(() => upstream.state, { timeout: 10_000 }).toBe('up');
    // Then 400, and never more than maxMs.
    await client.callTool({ name: 'edge.crash', arguments: {} }).catch(() => undefined);
    expect(upstream.nextBackoffMs).toBe(400);
    await expect.poll(() => upstream.state, { timeout: 10_000 }).toBe('up');
    await client.callTool({ name: 'edge.crash', arguments: {} }).catch(() => undefined);
    expect(upstream.nextBackoffMs).toBe(400);
    await expect.poll(() => upstream.state, { timeout: 10_000 }).toBe('up');
    expect(events.filter((e) => e === 'upstream "edge" went away; restarting')).toHaveLength(4);
  }, 30_000);

  test('a tool with no annotations is admin', () => {
    expect(gw.gateway.tools().find((t) => t.name === 'edge.no_hints')).toMatchObject({ risk: 'admin', riskFrom: 'annotations' });
  });

});

describe('restart backoff starts over after the upstream ran resetAfterMs', () => {
  test('crash, run past resetAfterMs, crash: the wait is initialMs again', async () => {
    const auth = await authority();
    const gw = await serveHttp(gatewayOptions(auth, { edge: { stdio: { command: process.execPath, args: [EDGE] } } }, { restart: { initialMs: 50, maxMs: 400, resetAfterMs: 300 } }));
    try {
      const client = await gw.connect(await grant(auth, { 'edge.crash': {} }));
      const upstream = gw.gateway.upstream('edge')!;
      await client.callTool({ name: 'edge.crash', arguments: {} }).catch(() => undefined);
      expect(upstream.nextBackoffMs).toBe(100);
      await expect.poll(() => upstream.state, { timeout: 10_000 }).toBe('up');
      await new Promise((r) => setTimeout(r, 400));
      await client.callTool({ name: 'edge.crash', arguments: {} }).catch(() => undefined);
      expect(upstream.nextBackoffMs).toBe(100);
    } finally {
      await gw.close();
    }
  }, 30_000);
});

describe('the environment of a stdio upstream', () => {
  test("the upstream gets the SDK's minimal environment and its own env, not the gateway's other variables", async () => {
    const auth = await authority();
    process.env['TESSERA_GATEWAY_TEST_SECRET'] = 'must-not-leak';
    try {
      const gw = await serveHttp(
        gatewayOptions(auth, { ev: { stdio: { command: process.execPath, args: [serverEntry('server-everything'), 'stdio'], env: { UPSTREAM_SETTING: 'on' } } } }),
      );
      try {
        const client = await gw.connect(await grant(auth, { 'ev.get-env': {} }));
        const env = JSON.parse(text(await client.callTool({ name: 'ev.get-env', arguments: {} }))) as Record<string, string>;
        expect(env['UPSTREAM_SETTING']).toBe('on');
        expect(env['PATH']).toBe(process.env['PATH']);
        expect(env['TESSERA_GATEWAY_TEST_SECRET']).toBeUndefined();
      } finally {
        await gw.close();
      }
    } finally {
      delete process.env['TESSERA_GATEWAY_TEST_SECRET'];
    }
  }, 30_000);
});

describe('risk tiers', () => {
  test('default from annotations: the most dangerous hint wins, with MCP defaults for absent hints', () => {
    expect(riskFromAnnotations({ readOnlyHint: true, openWorldHint: false })).toBe('read');
    expect(riskFromAnnotations({ readOnlyHint: true })).toBe('external');
    expect(riskFromAnnotations({ readOnlyHint: false, destructiveHint: false, openWorldHint: false })).toBe('write');
    expect(riskFromAnnotations({ readOnlyHint: false, destructiveHint: true, openWorldHint: true })).toBe('admin');
    expect(riskFromAnnotations({ destructiveHint: false, openWorldHint: true })).toBe('external');
    expect(riskFromAnnotations({ readOnlyHint: true, destructiveHint: true, openWorldHint: false })).toBe('read');
    expect(riskFromAnnotations(undefined)).toBe('admin');
  });

  test('the config wins over annotations: per tool, then per upstream', async () => {
    const auth = await authority();
    const gateway = createMcpGateway(
      gatewayOptions(auth, {
        fs: {
          stdio: { command: process.execPath, args: [serverEntry('server-filesystem'), process.cwd()] },
          risk: 'production',
          tools: { read_text_file: { risk: 'read' }, write_file: { hidden: true } },
        },
        mem: { stdio: { command: process.execPath, args: [serverEntry('server-memory')], env: { MEMORY_FILE_PATH: '/dev/null/never' } } },
      }),
    );
    try {
      await gateway.start();
      const byName = new Map(gateway.tools().map((t) => [t.name, t]));
      expect(byName.get('fs.read_text_file')).toMatchObject({ risk: 'read', riskFrom: 'config' });
      expect(byName.get('fs.list_directory')).toMatchObject({ risk: 'production', riskFrom: 'config' });
      expect(byName.has('fs.write_file')).toBe(false);
      expect(byName.get('mem.read_graph')).toMatchObject({ risk: 'read', riskFrom: 'annotations' });
      expect(byName.get('mem.create_entities')).toMatchObject({ risk: 'write', riskFrom: 'annotations' });
      expect(byName.get('mem.delete_entities')).toMatchObject({ risk: 'admin', riskFrom: 'annotations' });
    } finally {
      await gateway.close();
    }
  }, 30_000);
});

