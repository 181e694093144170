/**
 * The MCP gateway: any MCP client on one side, any MCP servers on the other, and the guard's
 * whole pipeline on every `tools/call` in between. Upstream tools are namespaced
 * (`<upstream>.<tool>`), their `inputSchema` becomes the argument schema the guard parses with,
 * and `tools/list` shows only what the caller's capability grants.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { Protocol } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolRequest,
  type CallToolResult,
  type Tool,
  type ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import type { Readable, Writable } from 'node:stream';
import type { z } from 'zod';
import { createElicitationApprover, DENIAL_META_KEY, type McpRequestExtra } from '../adapters/mcp.js';
import { asDenial, denialMessage } from '../adapters/denial.js';
import { toolNameSchema } from '../capability/claims.js';
import type { VerifiedCapability } from '../capability/verify.js';
import { ToolDeniedError } from '../errors.js';
import { createGuard } from '../guard/create-guard.js';
import { guardTool } from '../guard/guard-tool.js';
import type { CallOptions, Guard, GuardedTool } from '../guard/types.js';
import type { RiskTier } from '../policy/types.js';
import { ATTR } from '../telemetry/attributes.js';
import { withCallAttributes } from '../telemetry/call-attributes.js';
import { randomId } from '../util/canonical.js';
import { withDeadline } from '../util/deadline.js';
import { parseOptions } from '../util/options.js';
import { gatewayOptionsSchema, type McpGatewayOptions, type UpstreamOptions } from './options.js';
import { argumentSchema, UnsupportedSchemaError } from './json-schema.js';
import { Upstream, UpstreamError, withForwardedCredential, type UpstreamListing } from './upstream.js';

/** `_meta` keys a Tessera-aware client may send with `tools/call`. */
export const PROOF_META_KEY = 'tessera/proof';
export const CALL_ID_META_KEY = 'tessera/call_id';

/** One upstream tool as the gateway serves it. */
export interface GatewayTool {
  /** `<upstream>.<tool>`: the name clients see and capabilities grant. */
  readonly name: string;
  readonly upstream: string;
  /** The tool's name at its upstream. */
  readonly upstreamName: string;
  readonly risk: RiskTier;
  /** Where the tier came from. */
  readonly riskFrom: 'config' | 'annotations';
}

/** An upstream tool the gateway does not serve, and why. */
export interface RefusedTool {
  readonly name: string;
  readonly upstream: string;
  readonly reason: string;
}

/** Where the capability for one downstream request comes from. */
export type CapabilitySource = (extra: McpRequestExtra) => string | undefined | Promise<string | undefined>;

export interface McpGateway {
  /** The guard every call goes through (its approver asks the client by elicitation first). */
  readonly guard: Guard;
  /** Starts every upstream and lists its tools. Rejects, naming the upstream, if one cannot start. */
  start(): Promise<void>;
  /** The tools served, across upstreams. */
  tools(): readonly GatewayTool[];
  /** Upstream tools hidden because their schema was refused or their name is not a tool name. */
  refused(): readonly RefusedTool[];
  /** An upstream by name (its state, its pid, its next restart wait). */
  upstream(name: string): Upstream | undefined;
  /** A downstream MCP server for one client connection. */
  createServer(capability: CapabilitySource): Server;
  /** Serves one client over stdio (a desktop client launching the gateway). Resolves when connected. */
  serveStdio(io?: { stdin?: Readable; stdout?: Writable }): Promise<Server>;
  /** Stops every upstream and downstream server. */
  close(): Promise<void>;
}

/**
 * The tier an upstream's annotations imply, with MCP's defaults for hints left out
 * (`readOnlyHint` false, `destructiveHint` true, `openWorldHint` true). The most dangerous hint
 * wins: destructive → `admin`, open world → `external`, read-only → `read`, otherwise `write`.
 * `destructiveHint` counts only when the tool is not read-only, as MCP defines it. Annotations
 * are the upstream's own claim: the config's `risk` overrides them.
 */
export function riskFromAnnotations(annotations: ToolAnnotations | undefined): RiskTier {
  const readOnly = annotations?.readOnlyHint === true;
  const destructive = !readOnly && annotations?.destructiveHint !== false;
  const openWorld = annotations?.openWorldHint !== false;
  if (destructive) return 'admin';
  if (openWorld) return 'external';
  return readOnly ? 'read' : 'write';
}

interface Entry extends GatewayTool {
  readonly listed: Tool;
  readonly guarded: GuardedTool<z.ZodType, CallToolResult>;
}

const NAMESPACE_SEPARATOR = '.';
const MAX_META_STRING = 8192;

export function createMcpGateway(options: McpGatewayOptions): McpGateway {
  parseOptions(gatewayOptionsSchema, options, 'createMcpGateway');
  const elicitation = createElicitationApprover(options.guard.approver === undefined ? {} : { fallback: options.guard.approver });
  const guard = createGuard({ ...options.guard, approver: elicitation.approver });
  const keysMs = options.guard.timeouts?.keysMs ?? 10_000;
  const report = options.onEvent ?? (() => undefined);
  const timeouts = { connectMs: options.timeouts?.connectMs ?? 20_000, requestMs: options.timeouts?.requestMs ?? 60_000 };
  const restart = {
    initialMs: options.restart?.initialMs ?? 250,
    maxMs: options.restart?.maxMs ?? 30_000,
    resetAfterMs: options.restart?.resetAfterMs ?? 30_000,
  };

  const upstreams = new Map<string, { upstream: Upstream; config: UpstreamOptions; listing: UpstreamListing | undefined }>();
  for (const [name, config] of Object.entries(options.upstreams)) {
    const source = config.stdio !== undefined ? { stdio: config.stdio } : { http: config.http! };
    const upstream = new Upstream(name, source, timeouts, restart);
    upstream.onEvent = report;
    upstreams.set(name, { upstream, config, listing: undefined });
  }

  let catalog = new Map<string, Entry>();
  let refusedTools: RefusedTool[] = [];
  const servers = new Set<Server>();

  const toolsOf = (name: string, config: UpstreamOptions, upstream: Upstream, listing: UpstreamListing): { entries: Entry[]; refused: RefusedTool[] } => {
    const entries: Entry[] = [];
    const refused: RefusedTool[] = [];
    const perTool = new Map(Object.entries(config.tools ?? {}));
    const forwardsCredential = 'http' in upstream.source;
    for (const bad of listing.invalid) refused.push({ name: `${name}${NAMESPACE_SEPARATOR}${bad}`, upstream: name, reason: 'not a valid MCP tool definition' });
    for (const tool of listing.tools) {
      const own = perTool.get(tool.name);
      if (own?.hidden === true) continue;
      const full = `${name}${NAMESPACE_SEPARATOR}${tool.name}`;
      if (!toolNameSchema.safeParse(full).success) {
        refused.push({ name: full.slice(0, 200), upstream: name, reason: 'the name is not a valid tool name (letters, digits, "_", ".", ":", "/" and "-")' });
        continue;
      }
      let input: z.ZodType;
      try {
        input = argumentSchema(tool.inputSchema);
      } catch (err) {
        refused.push({ name: full, upstream: name, reason: err instanceof UnsupportedSchemaError ? err.message : 'its inputSchema could not be converted' });
        continue;
      }
      const configured = own?.risk ?? config.risk;
      const risk = configured ?? riskFromAnnotations(tool.annotations);
      const upstreamName = tool.name;
      // The tool's own mode, then the upstream's; without either the guard's own applies.
      const mode = own?.mode ?? config.mode;
      const guarded = guardTool(
        guard,
        {
          name: full,
          description: tool.description ?? '',
          input,
          risk,
          type: 'extension',
          ...(mode === undefined ? {} : { mode }),
          ...(own?.credentialAudience === undefined ? {} : { credential: { audience: own.credentialAudience } }),
        },
        // Only an HTTP upstream's requests carry the credential (a header); a stdio upstream has no place for it.
        forwardsCredential
          ? (args, ctx) => withForwardedCredential(ctx.credential.token, () => upstream.callTool(upstreamName, args as Readonly<Record<string, unknown>>, ctx.signal))
          : (args, ctx) => upstream.callTool(upstreamName, args as Readonly<Record<string, unknown>>, ctx.signal),
      );
      const listed: Tool = { ...tool, name: full };
      entries.push({ name: full, upstream: name, upstreamName, risk, riskFrom: configured === undefined ? 'annotations' : 'config', listed, guarded });
    }
    return { entries, refused };
  };

  const rebuild = (): void => {
    const next = new Map<string, Entry>();
    const refused: RefusedTool[] = [];
    for (const [name, u] of upstreams) {
      if (u.listing === undefined) continue;
      const built = toolsOf(name, u.config, u.upstream, u.listing);
      for (const e of built.entries) next.set(e.name, e);
      refused.push(...built.refused);
    }
    catalog = next;
    refusedTools = refused;
    for (const r of refused) report(`tool "${r.name}" of upstream "${r.upstream}" is hidden: ${r.reason}`);
  };

  for (const [, u] of upstreams) {
    u.upstream.onRestart = (listing) => {
      u.listing = listing;
      rebuild();
      for (const server of servers) server.sendToolListChanged().catch(() => undefined);
    };
  }

  /** The capability's verified grant, or undefined when it does not verify (the list is then empty). */
  const grantOf = async (token: string | undefined): Promise<VerifiedCapability | undefined> => {
    if (token === undefined || token === '') return undefined;
    try {
      return await withDeadline(guard.inspect(token), keysMs, "the capability's issuer keys");
    } catch {
      return undefined;
    }
  };

  const anyResources = [...upstreams.values()].some((u) => u.config.resources === true);
  const anyPrompts = [...upstreams.values()].some((u) => u.config.prompts === true);

  const createServer = (capability: CapabilitySource): Server => {
    const server = new Server(
      { name: 'tessera-gateway', version: '0.1.0' },
      {
        capabilities: {
          tools: { listChanged: true },
          ...(anyResources ? { resources: {} } : {}),
          ...(anyPrompts ? { prompts: {} } : {}),
        },
      },
    );
    servers.add(server);
    server.onclose = () => servers.delete(server);

    const tokenFor = async (extra: McpRequestExtra): Promise<string | undefined> => {
      try {
        return await capability(extra);
      } catch {
        return undefined;
      }
    };

    server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => {
      const cap = await grantOf(await tokenFor(extra));
      if (cap === undefined) return { tools: [] };
      const tools: Tool[] = [];
      for (const entry of catalog.values()) if (cap.tools.has(entry.name)) tools.push(entry.listed);
      return { tools };
    });

    // Registered past `Server`'s own tools/call wrapper, which parses the request a second time
    // and the result a second time: every result here is either the gateway's own denial or the
    // upstream's, which the upstream client has already parsed with the same CallToolResultSchema.
    // The wrapper's one other check, a request for a task, never gets this far: the server does
    // not declare tasks, so the SDK refuses such a request before any handler.
    Protocol.prototype.setRequestHandler.call(server, CallToolRequestSchema, async (request: CallToolRequest, extra: McpRequestExtra): Promise<CallToolResult> => {
      const name = request.params.name;
      const meta = request.params._meta as Record<string, unknown> | undefined;
      const requestId = String(extra.requestId);
      const metaCallId = meta?.[CALL_ID_META_KEY];
      const callId =
        typeof metaCallId === 'string' && metaCallId.length > 0 && metaCallId.length <= 128
          ? metaCallId
          : extra.sessionId
            ? `${extra.sessionId}:${requestId}`
            : `mcp-${randomId()}`;
      const entry = catalog.get(name);
      if (entry === undefined) {
        return denialResult(new ToolDeniedError('tool_not_granted', `this gateway serves no tool named ${JSON.stringify(name.slice(0, 128))}`, { tool: name.slice(0, 128), callId }));
      }
      const token = await tokenFor(extra);
      const proof = meta?.[PROOF_META_KEY];
      const callOptions: CallOptions = {
        capability: token ?? '',
        callId,
        signal: extra.signal,
        ...(typeof proof === 'string' && proof.length <= MAX_META_STRING ? { proof } : {}),
      };
      const call = (): Promise<CallToolResult> => entry.guarded(request.params.arguments ?? {}, callOptions);
      // MCP elicitation when this client can answer it; otherwise the guard's own approver is asked.
      const canElicit = server.getClientCapabilities()?.elicitation !== undefined;
      const run = (): Promise<CallToolResult> => (canElicit ? elicitation.run({ callId, extra }, call) : call());
      try {
        return await withCallAttributes({ [ATTR.MCP_REQUEST_ID]: requestId }, run);
      } catch (err) {
        const denial = asDenial(err);
        if (denial !== undefined) return denialResult(token === undefined || token === '' ? noCapability(denial) : denial);
        if (err instanceof UpstreamError) throw err;
        throw new UpstreamError(ErrorCode.InternalError, `the call to "${name}" failed`);
      }
    });

    if (anyResources) {
      const allowed = (): Array<[string, Upstream]> =>
        [...upstreams].filter(([, u]) => u.config.resources === true && u.listing?.resources === true).map(([n, u]) => [n, u.upstream]);
      const owner = new Map<string, Upstream>();
      server.setRequestHandler(ListResourcesRequestSchema, async () => {
        const resources = [];
        for (const [, upstream] of allowed()) {
          const r = await upstream.listResources();
          for (const res of r.resources) {
            owner.set(res.uri, upstream);
            resources.push(res);
          }
        }
        return { resources };
      });
      server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => {
        const resourceTemplates = [];
        for (const [, upstream] of allowed()) resourceTemplates.push(...(await upstream.listResources()).resourceTemplates);
        return { resourceTemplates };
      });
      server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
        const list = allowed();
        const upstream = owner.get(request.params.uri) ?? (list.length === 1 ? list[0]![1] : undefined);
        if (upstream === undefined) throw new UpstreamError(ErrorCode.InvalidParams, 'unknown resource: list resources first');
        return (await upstream.readResource(request.params.uri, extra.signal)) as never;
      });
    }
    if (anyPrompts) {
      const allowed = (): Array<[string, Upstream]> =>
        [...upstreams].filter(([, u]) => u.config.prompts === true && u.listing?.prompts === true).map(([n, u]) => [n, u.upstream]);
      server.setRequestHandler(ListPromptsRequestSchema, async () => {
        const prompts = [];
        for (const [name, upstream] of allowed()) for (const p of await upstream.listPrompts()) prompts.push({ ...p, name: `${name}${NAMESPACE_SEPARATOR}${p.name}` });
        return { prompts };
      });
      server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
        const full = request.params.name;
        const cut = full.indexOf(NAMESPACE_SEPARATOR);
        const found = cut > 0 ? allowed().find(([n]) => n === full.slice(0, cut)) : undefined;
        if (found === undefined) throw new UpstreamError(ErrorCode.InvalidParams, `unknown prompt ${JSON.stringify(full.slice(0, 128))}`);
        return (await found[1].getPrompt(full.slice(cut + 1), request.params.arguments, extra.signal)) as never;
      });
    }
    return server;
  };

  let started: Promise<void> | undefined;

  return {
    guard,
    start() {
      started ??= (async () => {
        await Promise.all(
          [...upstreams].map(async ([name, u]) => {
            try {
              u.listing = await u.upstream.start();
            } catch {
              throw new Error(`upstream "${name}" could not be started or did not answer initialize within ${timeouts.connectMs} ms`);
            }
          }),
        );
        rebuild();
      })();
      return started;
    },
    tools: () => [...catalog.values()].map(({ name, upstream, upstreamName, risk, riskFrom }) => ({ name, upstream, upstreamName, risk, riskFrom })),
    refused: () => [...refusedTools],
    upstream: (name) => upstreams.get(name)?.upstream,
    createServer,
    async serveStdio(io = {}) {
      const source = options.capability;
      const server = createServer(async () => (typeof source === 'function' ? source() : source));
      await server.connect(new StdioServerTransport(io.stdin, io.stdout));
      return server;
    },
    async close() {
      await Promise.all([...servers].map((s) => s.close().catch(() => undefined)));
      await Promise.all([...upstreams.values()].map((u) => u.upstream.close()));
    },
  };
}

function denialResult(denial: ToolDeniedError): CallToolResult {
  const message = denialMessage(denial);
  return { content: [{ type: 'text', text: JSON.stringify(message) }], isError: true, _meta: { [DENIAL_META_KEY]: message } };
}

/** A client that sent no capability: the gateway's operator must give it one. */
function noCapability(denial: ToolDeniedError): ToolDeniedError {
  if (denial.code !== 'capability_missing') return denial;
  return new ToolDeniedError(
    'capability_missing',
    'no capability came with this request: over HTTP send it as the bearer token; over stdio configure the gateway with one (capability option, environment, file or authority)',
    { tool: denial.tool, callId: denial.callId, policyIds: denial.policyIds },
  );
}

