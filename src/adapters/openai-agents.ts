/**
 * OpenAI Agents SDK adapter (`tessera-guard/openai-agents`): a guarded tool becomes a `FunctionTool`.
 *
 * The SDK's tool-call id (`details.toolCall.callId`) becomes the guard's call id (span
 * `gen_ai.tool.call.id`) and `details.signal` cancels the call.
 *
 * Denials: the SDK turns a thrown error into a generic message unless `errorFunction` is set, so
 * by default the adapter returns the structured denial (code and reason) as the tool's output;
 * with `onDenial: 'throw'` it sets `errorFunction: null` and the run rejects with the
 * `ToolDeniedError`.
 *
 * Approval is wired once, on the guard: `createGuard({ approver: approvals.approver })` with
 * `approvals = createFrameworkApprovals()`. The adapter asks the guard first (`guard.preflight`)
 * and sets `needsApproval` only for a call the guard would let through with a human's approval:
 * the run stops with an interruption, the host resolves it with `state.approve(item)` or
 * `state.reject(item)` and runs again. The SDK executes only approved calls; the adapter reads the
 * SDK's own record (`runContext.isToolApproved`) for this call id and hands it to the guard's
 * approver. The guard still decides. A guard with another approver (or none) gets no
 * `needsApproval` from this adapter.
 */
import { tool, type FunctionTool, type RunContext } from '@openai/agents-core';
import { z } from 'zod';
import type { GuardedTool } from '../guard/types.js';
import { frameworkApprovalsOf, unreachableApprovals, type FrameworkDecision } from './approvals.js';
import { asDenial, denialModeSchema, denialText, functionSchema, parseOptions, type DenialMode } from './denial.js';

export interface OpenAIAgentsToolOptions<I = unknown> {
  /** The name the model sees; default the guarded tool's name (the SDK rewrites dots to `_`). */
  name?: string;
  /** Overrides the description the model sees. */
  description?: string;
  /** `message` (default): a denial becomes the tool's output; `throw`: the run rejects with it. */
  onDenial?: DenialMode;
  /**
   * Pause the run for a human first. Default: when the guard's approver is framework approvals,
   * exactly the calls `guard.preflight` answers `require_approval` for; otherwise never.
   */
  needsApproval?: boolean | ((runContext: RunContext, input: I, callId?: string) => Promise<boolean>);
}

const optionsSchema = z.strictObject({
  name: z.string().min(1).max(128).optional(),
  description: z.string().optional(),
  onDenial: denialModeSchema.optional(),
  needsApproval: z.union([z.boolean(), functionSchema]).optional(),
});

/** The tool the SDK's `Agent({ tools })` takes; one type for every guarded tool, whatever its arguments. */
export type GuardedFunctionTool = FunctionTool<unknown, z.ZodObject, string>;

/** Turns a guarded tool into an OpenAI Agents SDK function tool. */
export function toOpenAIAgentsTool<S extends z.ZodType, R>(guarded: GuardedTool<S, R>, options: OpenAIAgentsToolOptions<z.input<S>> = {}): GuardedFunctionTool {
  type I = z.input<S>;
  parseOptions(optionsSchema, options, 'toOpenAIAgentsTool');
  const def = guarded.definition;
  const mode = options.onDenial ?? 'message';
  const approvals = frameworkApprovalsOf(guarded.guard);
  if (approvals === undefined && options.needsApproval !== undefined && options.needsApproval !== false) {
    throw unreachableApprovals('toOpenAIAgentsTool', def.name, 'the OpenAI Agents SDK');
  }
  const needsApproval =
    options.needsApproval ??
    (approvals === undefined
      ? false
      : async (_runContext: RunContext, input: I, callId?: string) =>
          (await guarded.guard.preflight(guarded, input, callId === undefined ? {} : { callId })).decision === 'require_approval');
  const parameters = def.input as unknown as z.ZodObject;
  if (typeof (parameters as { shape?: unknown }).shape !== 'object') {
    throw new TypeError(`toOpenAIAgentsTool: tool "${def.name}": input must be a z.object(...) schema`);
  }

  const missing = `the OpenAI Agents SDK did not interrupt the run for it (needsApproval of toOpenAIAgentsTools answered false for "${def.name}", or the run was resumed without state.approve)`;
  let frameworkName = '';
  const created = tool({
    name: options.name ?? def.name,
    description: options.description ?? def.description,
    parameters,
    needsApproval: needsApproval as boolean,
    // `null` makes the SDK rethrow instead of hiding the error behind a generic message.
    ...(mode === 'throw' ? { errorFunction: null } : {}),
    async execute(input, runContext, details) {
      const callId = details?.toolCall?.callId;
      const call = (): Promise<R> =>
        guarded(input as I, { ...(callId ? { callId } : {}), ...(details?.signal ? { signal: details.signal } : {}) });
      try {
        if (approvals === undefined || callId === undefined || runContext === undefined) return serialize(await call());
        const approved = runContext.isToolApproved({ toolName: frameworkName, callId });
        const decision: FrameworkDecision | undefined =
          approved === undefined ? undefined : { tool: def.name, callId, approved, approver: 'openai-agents approval', id: `openai-agents:${callId}` };
        return serialize(await approvals.run(decision ?? { tool: def.name, callId, missing }, call));
      } catch (err) {
        const denial = asDenial(err);
        if (denial === undefined || mode === 'throw') throw err;
        return denialText(denial);
      }
    },
  }) as unknown as GuardedFunctionTool;
  frameworkName = created.name;
  return created;
}

/** Turns several guarded tools into the `tools` array of an `Agent`, with the same options. */
export function toOpenAIAgentsTools(
  tools: readonly GuardedTool<z.ZodType, unknown>[],
  options: Omit<OpenAIAgentsToolOptions, 'name' | 'description'> = {},
): GuardedFunctionTool[] {
  const seen = new Set<string>();
  return tools.map((t) => {
    const adapted = toOpenAIAgentsTool(t, options);
    if (seen.has(adapted.name)) throw new TypeError(`toOpenAIAgentsTools: two tools are named "${adapted.name}" for the model`);
    seen.add(adapted.name);
    return adapted;
  });
}

/** The SDK sends tool output to the model as text; objects go as JSON. */
function serialize(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? '';
}

export { createFrameworkApprovals } from './approvals.js';
export type { FrameworkApprovals, FrameworkApprovalsOptions, FrameworkDecision, FrameworkNoDecision } from './approvals.js';
export { parseDenial } from './denial.js';
export type { DenialMessage, DenialMode } from './denial.js';
