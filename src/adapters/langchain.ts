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
 * Approval is wired once, on the guard: `createGuard({ approver: approvals.approver })` with
 * `approvals = createFrameworkApprovals()`. `guardedHumanInTheLoop(humanInTheLoopMiddleware,
 * tools)` builds LangChain's human-in-the-loop middleware for the adapted tools: it pauses the
 * agent only for calls the guard's preflight answers `require_approval` for, and records each
 * human decision for its tool-call id, which the adapted tool hands to the guard's approver. The
 * guard still decides, and a call no human saw is not approved.
 */
import { ToolMessage } from '@langchain/core/messages';
import { tool, type ToolRunnableConfig } from '@langchain/core/tools';
import { AsyncLocalStorage } from 'node:async_hooks';
import { z } from 'zod';
import type { GuardedTool } from '../guard/types.js';
import { frameworkApprovalsOf, type FrameworkApprovals, type FrameworkDecision } from './approvals.js';
import { asDenial, denialModeSchema, denialText, parseOptions, type DenialMode } from './denial.js';

export interface LangChainToolOptions {
  /** The name the model sees; default the guarded tool's name. */
  name?: string;
  /** Overrides the description the model sees. */
  description?: string;
  /** `message` (default): a denial is an error `ToolMessage`; `throw`: the `ToolDeniedError` propagates. */
  onDenial?: DenialMode;
}

const optionsSchema = z.strictObject({
  name: z.string().min(1).max(128).optional(),
  description: z.string().optional(),
  onDenial: denialModeSchema.optional(),
});

/** Which guarded tool each adapted tool runs, for `guardedHumanInTheLoop`. */
const ADAPTED = new WeakMap<object, { readonly guarded: GuardedTool<z.ZodType, unknown>; readonly name: string }>();

const decisionKey = (toolName: string, toolCallId: string): string => `langchain\u0000${toolName}\u0000${toolCallId}`;

/** Turns a guarded tool into a LangChain structured tool. */
export function toLangChainTool<R>(guarded: GuardedTool<z.ZodType, R>, options: LangChainToolOptions = {}) {
  parseOptions(optionsSchema, options, 'toLangChainTool');
  const def = guarded.definition;
  const name = options.name ?? def.name;
  const mode = options.onDenial ?? 'message';
  const approvals = frameworkApprovalsOf(guarded.guard);
  const missing = `LangChain's human-in-the-loop middleware did not ask a human about it (add guardedHumanInTheLoop(humanInTheLoopMiddleware, tools) to the agent's middleware, with this tool among the tools)`;

  const adapted = tool(
    async (input: unknown, config?: ToolRunnableConfig) => {
      const callId = config?.toolCall?.id;
      const call = (): Promise<R> =>
        guarded(input as never, { ...(callId ? { callId } : {}), ...(config?.signal ? { signal: config.signal } : {}) });
      try {
        if (approvals === undefined || callId === undefined) return await call();
        const decision = approvals.take(decisionKey(name, callId));
        return await approvals.run(decision === undefined ? { tool: def.name, callId, missing } : { ...decision, tool: def.name, callId }, call);
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
  ADAPTED.set(adapted, { guarded: guarded as GuardedTool<z.ZodType, unknown>, name });
  return adapted;
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
  _getType?(): string;
  getType?(): string;
  readonly type?: string;
}
type Hook = (state: { messages: readonly MessageLike[] }, runtime: unknown) => unknown;

export interface GuardedHumanInTheLoopOptions {
  /** What a human may answer for a guarded tool; default `['approve', 'reject']`. `edit` approves the edited call. */
  allowedDecisions?: readonly ('approve' | 'edit' | 'reject')[];
  /** More entries for tools the guard does not wrap, as in `humanInTheLoopMiddleware({ interruptOn })`. */
  interruptOn?: Record<string, unknown>;
  /** Passed on to the middleware (the text before each approval request). */
  descriptionPrefix?: string;
}

const hitlOptionsSchema = z.strictObject({
  allowedDecisions: z.array(z.enum(['approve', 'edit', 'reject'])).min(1).optional(),
  interruptOn: z.record(z.string(), z.unknown()).optional(),
  descriptionPrefix: z.string().optional(),
});

const kindOf = (m: MessageLike): string | undefined => m.getType?.() ?? m._getType?.() ?? m.type;

/**
 * Builds LangChain's human-in-the-loop middleware for guarded tools: pass the
 * `humanInTheLoopMiddleware` function from `langchain` and the tools made by `toLangChainTools`.
 * The agent pauses for a guarded call only when the guard's preflight answers
 * `require_approval`: a call the capability or policy would deny is never put to a human. Each
 * human decision is recorded for its tool-call id in the framework approvals of the tool's guard.
 *
 * Throws a TypeError when none of the tools' guards was created with framework approvals as its
 * approver (the human's answer could not reach the guard).
 */
export function guardedHumanInTheLoop<C, M extends object>(
  humanInTheLoopMiddleware: (config: C) => M,
  tools: readonly object[],
  options: GuardedHumanInTheLoopOptions = {},
): GuardedMiddleware<M> {
  parseOptions(hitlOptionsSchema, options, 'guardedHumanInTheLoop');
  if (typeof humanInTheLoopMiddleware !== 'function') throw new TypeError('guardedHumanInTheLoop: humanInTheLoopMiddleware must be the function from "langchain"');
  const byName = new Map<string, { guarded: GuardedTool<z.ZodType, unknown>; approvals: FrameworkApprovals }>();
  const unwired: string[] = [];
  for (const t of tools) {
    const entry = ADAPTED.get(t);
    if (entry === undefined) continue;
    const approvals = frameworkApprovalsOf(entry.guarded.guard);
    if (approvals === undefined) unwired.push(entry.name);
    else byName.set(entry.name, { guarded: entry.guarded, approvals });
  }
  if (byName.size === 0) {
    throw new TypeError(
      unwired.length === 0
        ? 'guardedHumanInTheLoop: none of the tools was made by toLangChainTool(s)'
        : `guardedHumanInTheLoop: the guard of ${unwired.map((n) => `"${n}"`).join(', ')} cannot receive a human's answer: ` +
            'create the guard with { approver: approvals.approver } where approvals = createFrameworkApprovals()',
    );
  }
  const asked = new AsyncLocalStorage<Map<string, string>>();
  const allowedDecisions = [...(options.allowedDecisions ?? ['approve', 'reject'])];
  const interruptOn: Record<string, unknown> = Object.create(null);
  for (const [name, value] of Object.entries(options.interruptOn ?? {})) {
    if (byName.has(name)) throw new TypeError(`guardedHumanInTheLoop: interruptOn.${name}: the guard decides when "${name}" needs a human; remove this entry`);
    interruptOn[name] = value;
  }
  for (const [name, { guarded }] of byName) {
    interruptOn[name] = {
      allowedDecisions,
      when: async (request: { toolCall: ToolCallLike }): Promise<boolean> => {
        const { toolCall } = request;
        const decision = await guarded.guard.preflight(guarded, toolCall.args, toolCall.id === undefined ? {} : { callId: toolCall.id });
        if (decision.decision !== 'require_approval' || toolCall.id === undefined) return false;
        asked.getStore()?.set(toolCall.id, name);
        return true;
      },
    };
  }
  const middleware = humanInTheLoopMiddleware({
    interruptOn: { ...interruptOn },
    ...(options.descriptionPrefix === undefined ? {} : { descriptionPrefix: options.descriptionPrefix }),
  } as C);

  const afterModel = (middleware as { afterModel?: { hook?: Hook } | Hook }).afterModel;
  const original = typeof afterModel === 'function' ? afterModel : afterModel?.hook;
  if (typeof original !== 'function') throw new TypeError('guardedHumanInTheLoop: humanInTheLoopMiddleware did not return the human-in-the-loop middleware');

  const hook: Hook = async (state, runtime) => {
    const calls = new Map<string, string>();
    // The hook returns only after the human answered (before that, it interrupts the graph).
    const result = (await asked.run(calls, () => original(state, runtime))) as { messages?: readonly MessageLike[] } | undefined;
    if (calls.size === 0 || result?.messages === undefined) return result;
    const rejected = new Set(result.messages.filter((m) => kindOf(m) === 'tool' && m.tool_call_id).map((m) => m.tool_call_id!));
    const kept = new Set(result.messages.filter((m) => kindOf(m) === 'ai').flatMap((m) => (m.tool_calls ?? []).map((c) => c.id)));
    for (const [id, name] of calls) {
      const entry = byName.get(name)!;
      const tool = entry.guarded.definition.name;
      if (rejected.has(id)) {
        entry.approvals.record(decisionKey(name, id), { tool, callId: id, approved: false, approver: 'langchain human-in-the-loop', reason: 'rejected by a human' });
      } else if (kept.has(id)) {
        entry.approvals.record(decisionKey(name, id), { tool, callId: id, approved: true, approver: 'langchain human-in-the-loop', id: `langchain:${id}` });
      }
    }
    return result;
  };

  const wrapped = typeof afterModel === 'function' ? hook : { ...afterModel, hook };
  return Object.assign(Object.create(Object.getPrototypeOf(middleware) as object | null) as M, middleware, { afterModel: wrapped });
}

/**
 * The middleware without its type-only markers: `langchain`'s own declaration of them does not
 * type-check under `exactOptionalPropertyTypes`, which would force a cast in strict projects.
 */
export type GuardedMiddleware<M> = Omit<M, '~middlewareTypes' | 'contextSchema'>;

export { createFrameworkApprovals } from './approvals.js';
export type { FrameworkApprovals, FrameworkApprovalsOptions, FrameworkDecision, FrameworkNoDecision } from './approvals.js';
export { parseDenial } from './denial.js';
export type { DenialMessage, DenialMode } from './denial.js';
