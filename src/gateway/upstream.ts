/**
 * One upstream MCP server: a stdio child process or a Streamable HTTP endpoint, reached with the
 * MCP SDK's own client. Every request to it has a deadline. A stdio upstream that exits is
 * started again with exponential backoff; while it is down its tools answer with an MCP error,
 * never a crash of the gateway.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { z } from 'zod';
import { ErrorCode, McpError, ToolSchema, type CallToolResult, type Prompt, type Resource, type ResourceTemplate, type Tool } from '@modelcontextprotocol/sdk/types.js';

export interface StdioUpstream {
  /** The executable; for a Node.js server, `process.execPath` and the script as the first argument. */
  command: string;
  args?: string[];
  /** Added to a minimal inherited environment (PATH, HOME, …); the gateway's own secrets are not passed on. */
  env?: Record<string, string>;
  cwd?: string;
}

export interface HttpUpstream {
  /** The upstream's Streamable HTTP endpoint. */
  url: string;
  /** Static headers sent with every request (e.g. the upstream's own API key). */
  headers?: Record<string, string>;
  /** Header that carries the call's single-use credential; default `Tessera-Credential`. */
  credentialHeader?: string;
}

/** Restart backoff of a stdio upstream, ms. */
export interface RestartOptions {
  /** First wait after an exit; default 250. */
  initialMs?: number;
  /** Longest wait; default 30,000. */
  maxMs?: number;
  /** The upstream counts as healthy again after running this long, and the backoff starts over; default 30,000. */
  resetAfterMs?: number;
}

export interface UpstreamTimeouts {
  /** Starting (spawn or connect) and initializing; default 20,000. */
  connectMs: number;
  /** Each request (tools/list, tools/call, resources, prompts); default 60,000. */
  requestMs: number;
}

export interface UpstreamListing {
  readonly tools: readonly Tool[];
  /** Names of listed tools that are not valid MCP tool definitions. */
  readonly invalid: readonly string[];
  readonly resources: boolean;
  readonly prompts: boolean;
}

const LOOSE_TOOL_LIST = z.object({ tools: z.array(z.unknown()).max(10_000), nextCursor: z.string().optional() });

/**
 * An upstream's failure as the JSON-RPC error the client receives: its `code` and `message` are
 * sent as they are (an McpError would prefix its message a second time on the client).
 */
export class UpstreamError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** The credential of the call being forwarded, for the HTTP transport's fetch to put in a header. */
const forwarding = new AsyncLocalStorage<string>();

export function withForwardedCredential<T>(token: string, fn: () => T): T {
  return forwarding.run(token, fn);
}

type State = 'starting' | 'up' | 'down' | 'closed';

export class Upstream {
  #client: Client | undefined;
  #state: State = 'down';
  #attempt = 0;
  #upSince = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #starting: Promise<UpstreamListing> | undefined;
  /** Told after a restart with the upstream's new listing. */
  onRestart: ((listing: UpstreamListing) => void) | undefined;
  /** Told when the upstream goes down or a restart fails; never with a message from the upstream. */
  onEvent: ((event: string) => void) | undefined;

  constructor(
    readonly name: string,
    readonly source: { stdio: StdioUpstream } | { http: HttpUpstream },
    readonly timeouts: UpstreamTimeouts,
    readonly restart: Required<RestartOptions>,
  ) {}

  get state(): State {
    return this.#state;
  }

  /** The pid of a running stdio upstream (for tests and operators). */
  get pid(): number | null {
    const t = (this.#client as unknown as { transport?: Transport } | undefined)?.transport;
    return t instanceof StdioClientTransport ? t.pid : null;
  }

  start(): Promise<UpstreamListing> {
    if (this.#starting !== undefined) return this.#starting;
    this.#state = 'starting';
    const starting = this.#connect().finally(() => {
      if (this.#starting === starting) this.#starting = undefined;
    });
    this.#starting = starting;
    return starting;
  }

  async #connect(): Promise<UpstreamListing> {
    const client = new Client({ name: 'tessera-gateway', version: '0.1.0' }, { capabilities: {} });
    const transport = this.#transport();
    try {
      await client.connect(transport, { timeout: this.timeouts.connectMs });
      const caps = client.getServerCapabilities() ?? {};
      const tools: Tool[] = [];
      const invalid: string[] = [];
      if (caps.tools !== undefined) {
        let cursor: string | undefined;
        // Pages are followed to the end, bounded so that an upstream cannot keep the gateway listing forever.
        for (let page = 0; page < 100; page++) {
          // Read loosely, then each tool on its own: one malformed tool must not hide the others.
          const r = await client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, LOOSE_TOOL_LIST, { timeout: this.timeouts.requestMs });
          for (const raw of r.tools) {
            const tool = ToolSchema.safeParse(raw);
            if (tool.success) tools.push(tool.data);
            else invalid.push(typeof (raw as { name?: unknown })?.name === 'string' ? String((raw as { name: string }).name).slice(0, 128) : '(unnamed)');
          }
          cursor = r.nextCursor;
          if (cursor === undefined) break;
        }
      }
      if (this.#state === 'closed') {
        await client.close().catch(() => undefined);
        throw new UpstreamError(ErrorCode.ConnectionClosed, `upstream "${this.name}" was closed`);
      }
      this.#client = client;
      this.#state = 'up';
      this.#upSince = Date.now();
      client.onclose = () => this.#lost(client);
      return { tools, invalid, resources: caps.resources !== undefined, prompts: caps.prompts !== undefined };
    } catch (err) {
      await client.close().catch(() => undefined);
      if (this.#state !== 'closed') this.#state = 'down';
      throw err;
    }
  }

  #transport(): Transport {
    if ('stdio' in this.source) {
      const s = this.source.stdio;
      return new StdioClientTransport({
        command: s.command,
        ...(s.args === undefined ? {} : { args: s.args }),
        env: { ...getDefaultEnvironment(), ...(s.env ?? {}) },
        ...(s.cwd === undefined ? {} : { cwd: s.cwd }),
        // The child's diagnostics go to the gateway's stderr, never into the MCP stream.
        stderr: 'inherit',
      });
    }
    const h = this.source.http;
    const header = h.credentialHeader ?? 'Tessera-Credential';
    const fixed = h.headers ?? {};
    return new StreamableHTTPClientTransport(new URL(h.url), {
      fetch: (url, init) => {
        const headers = new Headers(init?.headers);
        for (const [k, v] of Object.entries(fixed)) headers.set(k, v);
        const credential = forwarding.getStore();
        if (credential !== undefined) headers.set(header, credential);
        return fetch(url, { ...init, headers });
      },
    });
  }

  #lost(client: Client): void {
    if (this.#client !== client || this.#state === 'closed') return;
    this.#client = undefined;
    this.#state = 'down';
    if (Date.now() - this.#upSince >= this.restart.resetAfterMs) this.#attempt = 0;
    this.onEvent?.(`upstream "${this.name}" went away; restarting`);
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    if (this.#state === 'closed' || this.#restartTimer !== undefined) return;
    const delay = Math.min(this.restart.maxMs, this.restart.initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.start().then(
        (listing) => this.onRestart?.(listing),
        () => {
          this.onEvent?.(`upstream "${this.name}" did not start; trying again`);
          this.#scheduleRestart();
        },
      );
    }, delay);
    this.#restartTimer.unref();
  }

  /** The next restart's wait, ms (for tests and operators). */
  get nextBackoffMs(): number {
    return Math.min(this.restart.maxMs, this.restart.initialMs * 2 ** Math.min(this.#attempt, 30));
  }

  #up(): Client {
    const client = this.#client;
    if (client === undefined || this.#state !== 'up') {
      throw new UpstreamError(ErrorCode.InternalError, `upstream "${this.name}" is not available${this.#state === 'closed' ? '' : ' (restarting)'}; try again shortly`);
    }
    return client;
  }

  async callTool(name: string, args: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<CallToolResult> {
    const client = this.#up();
    try {
      return (await client.callTool({ name, arguments: args as Record<string, unknown> }, undefined, { timeout: this.timeouts.requestMs, signal })) as CallToolResult;
    } catch (err) {
      throw this.#failure(err, `tools/call ${name}`);
    }
  }

  async listResources(): Promise<{ resources: Resource[]; resourceTemplates: ResourceTemplate[] }> {
    const client = this.#up();
    try {
      const resources = (await client.listResources({}, { timeout: this.timeouts.requestMs })).resources;
      let resourceTemplates: ResourceTemplate[] = [];
      try {
        resourceTemplates = (await client.listResourceTemplates({}, { timeout: this.timeouts.requestMs })).resourceTemplates;
      } catch {
        // Templates are optional in MCP; an upstream without them has none.
      }
      return { resources, resourceTemplates };
    } catch (err) {
      throw this.#failure(err, 'resources/list');
    }
  }

  async readResource(uri: string, signal: AbortSignal): Promise<unknown> {
    const client = this.#up();
    try {
      return await client.readResource({ uri }, { timeout: this.timeouts.requestMs, signal });
    } catch (err) {
      throw this.#failure(err, 'resources/read');
    }
  }

  async listPrompts(): Promise<Prompt[]> {
    const client = this.#up();
    try {
      return (await client.listPrompts({}, { timeout: this.timeouts.requestMs })).prompts;
    } catch (err) {
      throw this.#failure(err, 'prompts/list');
    }
  }

  async getPrompt(name: string, args: Record<string, string> | undefined, signal: AbortSignal): Promise<unknown> {
    const client = this.#up();
    try {
      return await client.getPrompt({ name, ...(args === undefined ? {} : { arguments: args }) }, { timeout: this.timeouts.requestMs, signal });
    } catch (err) {
      throw this.#failure(err, 'prompts/get');
    }
  }

  /**
   * An upstream's failure as an MCP error the client can read. The upstream's own JSON-RPC error
   * keeps its code and message (it is the upstream's answer to the client's request); a lost
   * connection or a passed deadline gets the gateway's own words.
   */
  #failure(err: unknown, what: string): UpstreamError {
    if (err instanceof McpError) {
      if (err.code === ErrorCode.RequestTimeout) return new UpstreamError(ErrorCode.RequestTimeout, `upstream "${this.name}" did not answer ${what} within ${this.timeouts.requestMs} ms`);
      if (err.code === ErrorCode.ConnectionClosed) return new UpstreamError(ErrorCode.InternalError, `upstream "${this.name}" closed the connection during ${what}`);
      return new UpstreamError(err.code, err.message.replace(/^MCP error -?\d+: /, '').slice(0, 500));
    }
    return new UpstreamError(ErrorCode.InternalError, `upstream "${this.name}" failed during ${what}`);
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
  }
}
