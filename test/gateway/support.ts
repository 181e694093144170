/** Real third-party MCP servers behind a real gateway, reached by the MCP SDK's own client. */
import { mkdtempSync, realpathSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createAuthority, type Authority, type GrantRequest } from '../../src/index.js';
import { createGatewayHttpHandler, createMcpGateway, type GatewayHttpHandler, type McpGateway, type McpGatewayOptions } from '../../src/gateway/index.js';

const require = createRequire(import.meta.url);

/** The installed server's entry point, started with this Node.js: never npx, nothing is downloaded. */
export function serverEntry(pkg: 'server-filesystem' | 'server-memory' | 'server-everything'): string {
  const manifest = require.resolve(`@modelcontextprotocol/${pkg}/package.json`);
  return join(dirname(manifest), 'dist', 'index.js');
}

export const ISSUER = 'https://authz.example.com';
export const AUDIENCE = 'mcp-gateway';
export const AGENT = 'spiffe://example.org/agents/desktop';

/** A scratch directory with an allowed folder, a secret next to it and a file inside. */
export function scratch() {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'tessera-gw-')));
  const allowed = join(root, 'project');
  const other = join(root, 'secrets');
  mkdirSync(allowed);
  mkdirSync(other);
  writeFileSync(join(allowed, 'notes.txt'), 'inside the project\n');
  writeFileSync(join(other, 'key.txt'), 'do not read\n');
  return { root, allowed, other, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export async function authority(): Promise<Authority> {
  return createAuthority({ issuer: ISSUER });
}

export function grant(auth: Authority, tools: GrantRequest['tools'], extra: Partial<GrantRequest> = {}): Promise<string> {
  return auth.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'fix-1', purpose: 'Fix issue 1' }, tools, ttl: '10m', ...extra });
}

export function gatewayOptions(auth: Authority, upstreams: McpGatewayOptions['upstreams'], extra: Partial<McpGatewayOptions> = {}): McpGatewayOptions {
  return {
    guard: { audience: AUDIENCE, trust: { issuer: ISSUER, jwks: auth.jwks() } },
    upstreams,
    ...extra,
  };
}

export interface HttpGateway {
  gateway: McpGateway;
  handler: GatewayHttpHandler;
  url: string;
  connect(capability: string | undefined, headers?: Record<string, string>): Promise<Client>;
  close(): Promise<void>;
}

/** The gateway served over HTTP on a free loopback port. */
export async function serveHttp(options: McpGatewayOptions): Promise<HttpGateway> {
  const gateway = createMcpGateway(options);
  await gateway.start();
  let handler: GatewayHttpHandler | undefined;
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: (r) => handler!.fetch(r), port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const url = `http://127.0.0.1:${port}/mcp`;
  handler = createGatewayHttpHandler(gateway, { resource: url, authorizationServers: [ISSUER] });
  const clients: Client[] = [];
  return {
    gateway,
    handler,
    url,
    async connect(capability, headers = {}) {
      const client = new Client({ name: 'test-agent', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { ...(capability === undefined ? {} : { Authorization: `Bearer ${capability}` }), ...headers } },
      });
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await handler!.close();
      await gateway.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The text of a tool result's first content item. */
export function text(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content[0]?.text ?? '';
}

/** `node --import <this>` runs the TypeScript source from any working directory. */
export const TSX_LOADER = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;
