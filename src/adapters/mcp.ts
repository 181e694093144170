/**
 * MCP adapter (`tessera-guard/mcp`): registers guarded tools on an `McpServer`
 * (`@modelcontextprotocol/sdk` v1).
 *
 * The capability for a call comes, in order, from the `capability` option (a token for a
 * per-agent server, or a function of the request, e.g. a lookup by `extra.sessionId`), then from
 * the request's auth info (`extra.authInfo.token`, the bearer token the transport's auth
 * middleware validated), then from the guard's `withCapability` context. Never from the
 * arguments. MCP has no tool-call id beyond the JSON-RPC request id, which repeats across
 * sessions: the call id (span `gen_ai.tool.call.id`) is `<session id>:<request id>` when the
 * transport has sessions and a generated id otherwise; the request id is kept as `mcp.request.id`.
 * `extra.signal` cancels the call.
 *
 * A denial is a `CallToolResult` with `isError: true`, the structured denial as JSON text and in
 * `_meta["tessera/denial"]`, so the client's model can recover and a test can assert the code.
 * Approval: MCP's own way to ask the user is elicitation. `createElicitationApprover()` gives the
 * guard an approver that, for a call made through this adapter, sends `elicitation/create` to the
 * calling client over the same request and approves only on an explicit `accept` with
 * `approve: true`. Decline, cancel, a client without elicitation, or an error are denials.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { McpServer, RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ElicitResultSchema, type ServerNotification, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ToolDeniedError } from '../errors.js';
import type { CapabilityBinding, GuardedTool } from '../guard/types.js';
import { ATTR } from '../telemetry/attributes.js';
import { withCallAttributes } from '../telemetry/call-attributes.js';
import { randomId } from '../util/canonical.js';
import type { ApprovalAnswer, ApprovalRequest, Approver, RiskTier } from '../policy/types.js';
import { asDenial, denialMessage, denialModeSchema, functionSchema, parseOptions, type DenialMode } from './denial.js';

export type McpRequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface McpToolOptions<R = unknown> {
  /** The name clients see; default the guarded tool's name. */
  name?: string;
  title?: string;
  /** Overrides the description clients see. */
  description?: string;
  /** Merged over annotations derived from the risk tier (read-only, destructive, open world). */
  annotations?: ToolAnnotations;
  /** `message` (default): a denial is an `isError` result; `throw`: the SDK reports the thrown denial. */
  onDenial?: DenialMode;
  /** Where the capability comes from; default the request's bearer token (`extra.authInfo.token`). */
  capability?: CapabilityBinding | ((extra: McpRequestExtra) => CapabilityBinding | undefined);
  /** Turns the tool's value into a result; default text (JSON for non-strings) plus `structuredContent` for objects. */
  toResult?: (value: R) => CallToolResult;
  /** Ask the calling client's user through MCP elicitation when the guard requires approval. */
  elicitation?: ElicitationApprover;
}

const optionsSchema = z.strictObject({
  name: z.string().min(1).max(128).optional(),
  title: z.string().optional(),
  description: z.string().optional(),
  annotations: z.record(z.string(), z.unknown()).optional(),
  onDenial: denialModeSchema.optional(),
  capability: z.union([z.string().min(1), z.object({ capability: z.string().min(1) }).loose(), functionSchema]).optional(),
  toResult: functionSchema.optional(),
  elicitation: z.custom<ElicitationApprover>((v) => typeof (v as ElicitationApprover | undefined)?.run === 'function', 'must come from createElicitationApprover()').optional(),
});

interface ElicitationScope {
  readonly callId: string;
  readonly extra: McpRequestExtra;
}

export interface ElicitationApprover {
  /** Give this to `createGuard({ approver })`. */
  readonly approver: Approver;
  /** Runs one call with its MCP request in scope (the adapter does this). */
  run<T>(scope: ElicitationScope, fn: () => T): T;
}

export interface ElicitationApproverOptions {
  /** Asked for calls that did not come through an MCP request (e.g. tools called in-process). */
  fallback?: Approver;
  /** The text the user sees; default names the tool, the reason and a redacted preview of the arguments. */
  message?: (request: ApprovalRequest) => string;
}

const elicitationOptionsSchema = z.strictObject({ fallback: functionSchema.optional(), message: functionSchema.optional() });

const APPROVAL_SCHEMA = {
  type: 'object',
  properties: { approve: { type: 'boolean', title: 'Approve this call', description: 'Allow the tool to run once with these arguments' } },
  required: ['approve'],
} as const;

function defaultElicitationMessage(r: ApprovalRequest): string {
  const args = Object.entries(r.argsPreview).map(([k, v]) => `${k}: ${v}`).join(', ');
  return `Approve "${r.tool}" (${r.risk}) for intent "${r.intent.id}"? ${r.why}. Arguments: ${args || '(none)'}`;
}

/** An approver that asks the MCP client's user, through elicitation, on the request being served. */
export function createElicitationApprover(options: ElicitationApproverOptions = {}): ElicitationApprover {
  parseOptions(elicitationOptionsSchema, options, 'createElicitationApprover');
  const scope = new AsyncLocalStorage<ElicitationScope>();
  const message = options.message ?? defaultElicitationMessage;
  const fallback = options.fallback;
  const approver: Approver = async (request): Promise<ApprovalAnswer> => {
    const s = scope.getStore();
    if (s === undefined || s.callId !== request.callId) {
      if (fallback !== undefined) return fallback(request);
      return { approved: false, approver: 'mcp elicitation', reason: 'the call did not come through an MCP request that can ask its user' };
    }
    const result = await s.extra.sendRequest(
      { method: 'elicitation/create', params: { mode: 'form', message: message(request), requestedSchema: APPROVAL_SCHEMA } } as unknown as ServerRequest,
      ElicitResultSchema,
      { signal: request.signal },
    );
    if (result.action === 'accept' && result.content?.['approve'] === true) return { approved: true, approver: 'mcp elicitation' };
    return { approved: false, approver: 'mcp elicitation', reason: result.action === 'accept' ? 'the user did not approve' : `the user chose ${result.action}` };
  };
  return { approver, run: (s, fn) => scope.run(s, fn) };
}

export const DENIAL_META_KEY = 'tessera/denial';

const RISK_ANNOTATIONS: Record<RiskTier, ToolAnnotations> = {
  read: { readOnlyHint: true, destructiveHint: false, openWorldHint: false },
  write: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  external: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
  production: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
  admin: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
};

function defaultResult(value: unknown): CallToolResult {
  if (typeof value === 'string') return { content: [{ type: 'text', text: value }] };
  const text = JSON.stringify(value) ?? '';
  const structured = value !== null && typeof value === 'object' && !Array.isArray(value);
  return { content: [{ type: 'text', text }], ...(structured ? { structuredContent: value as Record<string, unknown> } : {}) };
}

/** Registers one guarded tool on an MCP server. */
export function registerGuardedTool<R>(server: McpServer, guarded: GuardedTool<z.ZodType, R>, options: McpToolOptions<R> = {}): RegisteredTool {
  parseOptions(optionsSchema, options, 'registerGuardedTool');
  const def = guarded.definition;
  const mode = options.onDenial ?? 'message';
  const toResult = (options.toResult ?? defaultResult) as (value: R) => CallToolResult;
  const source = options.capability;
  const elicitation = options.elicitation;
  const resolve =
    typeof source === 'function'
      ? source
      : source !== undefined
        ? () => source
        : (extra: McpRequestExtra) => (extra.authInfo?.token ? extra.authInfo.token : undefined);

  const handler = async (args: unknown, extra: McpRequestExtra): Promise<CallToolResult> => {
    const requestId = String(extra.requestId);
    const callId = extra.sessionId ? `${extra.sessionId}:${requestId}` : `mcp-${randomId()}`;
    let capability: CapabilityBinding | undefined;
    try {
      try {
        capability = resolve(extra);
      } catch {
        // A failed lookup must not fall back to an ambient capability: an empty one makes the
        // guard deny (capability_missing) and record the span like any other denial.
        capability = '';
      }
      const call = (): Promise<R> =>
        guarded(args as never, { callId, signal: extra.signal, ...(capability === undefined ? {} : { capability }) });
      const run = (): Promise<R> => (elicitation === undefined ? call() : elicitation.run({ callId, extra }, call));
      const value = await withCallAttributes({ [ATTR.MCP_REQUEST_ID]: requestId }, run);
      return toResult(value);
    } catch (err) {
      const found = asDenial(err);
      if (found === undefined || mode === 'throw') throw err;
      const denial = found.code === 'capability_missing' && (capability === undefined || capability === '') && !extra.signal.aborted ? forMcpClient(found) : found;
      const message = denialMessage(denial);
      return { content: [{ type: 'text', text: JSON.stringify(message) }], isError: true, _meta: { [DENIAL_META_KEY]: message } };
    }
  };

  return server.registerTool(
    options.name ?? def.name,
    {
      ...(options.title === undefined ? {} : { title: options.title }),
      description: options.description ?? def.description,
      inputSchema: def.input as z.ZodObject,
      annotations: { ...RISK_ANNOTATIONS[def.risk], ...options.annotations },
    },
    handler as never,
  );
}

/**
 * An MCP client cannot bind an in-process context: it must send its capability with the request.
 * The guard's own reason (which names `withCapability`) stays on the span for the developer.
 */
function forMcpClient(denial: ToolDeniedError): ToolDeniedError {
  return new ToolDeniedError(
    'capability_missing',
    'no capability came with this request: send the capability token as the bearer token (Authorization: Bearer <capability>) on the MCP connection',
    { tool: denial.tool, callId: denial.callId, policyIds: denial.policyIds },
  );
}

/** Registers several guarded tools with the same options (names come from each tool). */
export function registerGuardedTools(
  server: McpServer,
  tools: readonly GuardedTool<z.ZodType, unknown>[],
  options: Omit<McpToolOptions, 'name' | 'title' | 'description'> = {},
): RegisteredTool[] {
  return tools.map((t) => registerGuardedTool(server, t, options));
}

export { parseDenial } from './denial.js';
export type { DenialMessage, DenialMode } from './denial.js';
