/**
 * LangChain.js adapter (`tessera-guard/langchain`): a guarded tool becomes a LangChain tool
 * (`tool()` from `@langchain/core/tools`), usable in `createAgent`, LangGraph's `ToolNode` or a
 * plain `bindTools` loop.
 *
 * When LangChain invokes the tool with a tool call, its id becomes the guard's call id (span
 * `gen_ai.tool.call.id`) and `config.signal` cancels the call. A denial comes back, by default,
 * as a `ToolMessage` with `status: "error"` whose content is the structured denial, so the agent
 * sees the code and reason; `onDenial: 'throw'` propagates the `ToolDeniedError` instead.
 *
 * Approval: LangChain's human-in-the-loop middleware pauses the agent and resumes it with the
 * human's decisions. `recordHumanDecisions` wraps that middleware (created by the host with
 * `humanInTheLoopMiddleware(config)` from `langchain`) so that each decision is recorded for its
 * tool-call id; the adapted tool hands it to the guard's approver through `approvals`. The
 * guard still decides, and a call no human saw is not approved.
 */
import { ToolMessage } from '@langchain/core/messages';
import { tool, type ToolRunnableConfig } from '@langchain/core/tools';
import { z } from 'zod';
import type { GuardedTool } from '../guard/types.js';
import type { FrameworkApprovals, FrameworkDecision } from './approvals.js';
import { asDenial, denialModeSchema, denialText, parseOptions, type DenialMode } from './denial.js';

export interface LangChainToolOptions {
  /** The name the model sees; default the guarded tool's name. */
  name?: string;
  /** Overrides the description the model sees. */
  description?: string;
  /** `message` (default): a denial is an error `ToolMessage`; `throw`: the `ToolDeniedError` propagates. */
  onDenial?: DenialMode;
  /** Carries human-in-the-loop decisions (see `recordHumanDecisions`) to the guard's approver. */
  approvals?: FrameworkApprovals;
}

const approvalsSchema = z.custom<FrameworkApprovals>(
  (v) => typeof (v as FrameworkApprovals | undefined)?.take === 'function',
  'must come from createFrameworkApprovals()',
);

const optionsSchema = z.object({
  name: z.string().min(1).max(128).optional(),
  description: z.string().optional(),
  onDenial: denialModeSchema.optional(),
  approvals: approvalsSchema.optional(),
});

const decisionKey = (toolName: string, toolCallId: string): string => `langchain\u0000${toolName}\u0000${toolCallId}`;

/** Turns a guarded tool into a LangChain structured tool. */
export function toLangChainTool<R>(guarded: GuardedTool<z.ZodType, R>, options: LangChainToolOptions = {}) {
  parseOptions(optionsSchema, options, 'toLangChainTool');
  const def = guarded.definition;
  const name = options.name ?? def.name;
  const mode = options.onDenial ?? 'message';
  const approvals = options.approvals;

  return tool(
    async (input: unknown, config?: ToolRunnableConfig) => {
      const callId = config?.toolCall?.id;
      const call = (): Promise<R> =>
        guarded(input as never, { ...(callId ? { callId } : {}), ...(config?.signal ? { signal: config.signal } : {}) });
      try {
        if (approvals === undefined || callId === undefined) return await call();
        const decision = approvals.take(decisionKey(name, callId));
        return await approvals.run(decision === undefined ? undefined : { ...decision, tool: def.name, callId }, call);
      } catch (err) {
        const denial = asDenial(err);
        if (denial === undefined || mode === 'throw') throw err;
        const text = denialText(denial);
        // Without a tool call there is no message to answer; the caller gets the text.
        if (callId === undefined) return text;
        return new ToolMessage({ content: text, tool_call_id: callId, name, status: 'error', artifact: denial.toJSON() });
      }
    },
    { name, description: options.description ?? def.description, schema: def.input as z.ZodObject },
  );
}

/** Adapts several guarded tools with the same options (names come from each tool). */
export function toLangChainTools(tools: readonly GuardedTool<z.ZodType, unknown>[], options: Omit<LangChainToolOptions, 'name' | 'description'> = {}) {
  return tools.map((t) => toLangChainTool(t, options));
}

interface ToolCallLike {
  readonly id?: string;
  readonly name: string;
  readonly args: Record<string, unknown>;
}
interface MessageLike {
  readonly tool_calls?: readonly ToolCallLike[];
  readonly tool_call_id?: string;
  readonly status?: string;
  _getType?(): string;
  getType?(): string;
  readonly type?: string;
}
type InterruptConfig = boolean | { allowedDecisions?: readonly string[]; when?: (args: { toolCall: ToolCallLike; tool: undefined; state: unknown; runtime: unknown }) => boolean | Promise<boolean> };
type Hook = (state: { messages: readonly MessageLike[] }, runtime: { context?: { interruptOn?: Record<string, InterruptConfig> } }) => unknown;

/** The subset of `HumanInTheLoopMiddlewareConfig` this bridge reads. */
export interface HumanInTheLoopConfigLike {
  interruptOn?: Record<string, InterruptConfig>;
}

const kindOf = (m: MessageLike): string | undefined => m.getType?.() ?? m._getType?.() ?? m.type;

/**
 * Wraps the middleware `humanInTheLoopMiddleware(config)` returned so that every human decision
 * is recorded, per tool-call id, in `approvals`. Pass the same `config` the middleware was made
 * with. Approve and edit record an approval (an edit approves the edited call); reject records a
 * refusal. Calls the middleware let through without asking a human record nothing.
 */
export function recordHumanDecisions<M extends object>(middleware: M, config: HumanInTheLoopConfigLike, approvals: FrameworkApprovals): M {
  parseOptions(approvalsSchema, approvals, 'recordHumanDecisions');
  const afterModel = (middleware as { afterModel?: { hook?: Hook } | Hook }).afterModel;
  const original = typeof afterModel === 'function' ? afterModel : afterModel?.hook;
  if (typeof original !== 'function') throw new TypeError('recordHumanDecisions: expected the middleware returned by humanInTheLoopMiddleware()');

  const hook: Hook = async (state, runtime) => {
    const last = [...(state.messages ?? [])].reverse().find((m) => kindOf(m) === 'ai');
    const asked: ToolCallLike[] = [];
    const interruptOn = runtime?.context?.interruptOn ?? config.interruptOn ?? {};
    for (const call of last?.tool_calls ?? []) {
      const c = Object.hasOwn(interruptOn, call.name) ? interruptOn[call.name] : undefined;
      if (c === undefined || c === false) continue;
      if (typeof c === 'object' && (c.allowedDecisions === undefined || c.allowedDecisions.length === 0)) continue;
      if (typeof c === 'object' && c.when !== undefined && !(await c.when({ toolCall: call, tool: undefined, state, runtime }))) continue;
      if (call.id) asked.push(call);
    }
    // The original hook returns only after the human answered (it interrupts before that).
    const result = (await original(state, runtime)) as { messages?: readonly MessageLike[] } | undefined;
    if (asked.length === 0 || result?.messages === undefined) return result;
    const rejected = new Set(result.messages.filter((m) => kindOf(m) === 'tool' && m.tool_call_id).map((m) => m.tool_call_id!));
    const kept = new Set((last?.tool_calls ?? []).map((c) => c.id));
    for (const call of asked) {
      const id = call.id!;
      const decision: FrameworkDecision = rejected.has(id)
        ? { tool: call.name, callId: id, approved: false, approver: 'langchain human-in-the-loop', reason: 'rejected by a human' }
        : { tool: call.name, callId: id, approved: true, approver: 'langchain human-in-the-loop', id: `langchain:${id}` };
      if (rejected.has(id) || kept.has(id)) approvals.record(decisionKey(call.name, id), decision);
    }
    return result;
  };

  const wrapped = typeof afterModel === 'function' ? hook : { ...afterModel, hook };
  return Object.assign(Object.create(Object.getPrototypeOf(middleware) as object | null) as M, middleware, { afterModel: wrapped });
}

export { createFrameworkApprovals } from './approvals.js';
export type { FrameworkApprovals, FrameworkApprovalsOptions, FrameworkDecision } from './approvals.js';
export { parseDenial } from './denial.js';
export type { DenialMessage, DenialMode } from './denial.js';
