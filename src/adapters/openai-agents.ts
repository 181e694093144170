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
 * Approval: `needsApproval` (default: the tool's risk tier is high) makes the run stop with an
 * interruption; the host resolves it with `state.approve(item)` or `state.reject(item)` and runs
 * again. The SDK executes only approved calls; the adapter reads the SDK's own record
 * (`runContext.isToolApproved`) for this call id and hands it to the guard's approver through
 * `approvals`. The guard still decides.
 */
import { tool, type FunctionTool, type RunContext } from '@openai/agents-core';
import { z } from 'zod';
import type { GuardedTool } from '../guard/types.js';
import { HIGH_RISK_TIERS } from '../policy/types.js';
import type { FrameworkApprovals, FrameworkDecision } from './approvals.js';
import { asDenial, denialModeSchema, denialText, functionSchema, parseOptions, type DenialMode } from './denial.js';

export interface OpenAIAgentsToolOptions<I = unknown> {
  /** The name the model sees; default the guarded tool's name (the SDK rewrites dots to `_`). */
  name?: string;
  /** Overrides the description the model sees. */
  description?: string;
  /** `message` (default): a denial becomes the tool's output; `throw`: the run rejects with it. */
  onDenial?: DenialMode;
  /** Pause the run for a human first; default true for `external`, `production` and `admin` tools. */
  needsApproval?: boolean | ((runContext: RunContext, input: I, callId?: string) => Promise<boolean>);
  /** Carries the SDK's approval decisions to the guard's approver. */
  approvals?: FrameworkApprovals;
}

const optionsSchema = z.object({
  name: z.string().min(1).max(128).optional(),
  description: z.string().optional(),
  onDenial: denialModeSchema.optional(),
  needsApproval: z.union([z.boolean(), functionSchema]).optional(),
  approvals: z.custom<FrameworkApprovals>((v) => typeof (v as FrameworkApprovals | undefined)?.run === 'function', 'must come from createFrameworkApprovals()').optional(),
});

type AnyFunctionTool = FunctionTool<unknown, z.ZodObject, string>;

/** Turns a guarded tool into an OpenAI Agents SDK function tool. */
export function toOpenAIAgentsTool<I, R>(guarded: GuardedTool<z.ZodType<unknown, I>, R>, options: OpenAIAgentsToolOptions<I> = {}): AnyFunctionTool {
  parseOptions(optionsSchema, options, 'toOpenAIAgentsTool');
  const def = guarded.definition;
  const mode = options.onDenial ?? 'message';
  const approvals = options.approvals;
  const parameters = def.input as unknown as z.ZodObject;
  if (typeof (parameters as { shape?: unknown }).shape !== 'object') {
    throw new TypeError(`toOpenAIAgentsTool: tool "${def.name}": input must be a z.object(...) schema`);
  }

  let frameworkName = '';
  const created = tool({
    name: options.name ?? def.name,
    description: options.description ?? def.description,
    parameters,
    needsApproval: (options.needsApproval ?? HIGH_RISK_TIERS.has(def.risk)) as boolean,
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
        return serialize(await approvals.run(decision, call));
      } catch (err) {
        const denial = asDenial(err);
        if (denial === undefined || mode === 'throw') throw err;
        return denialText(denial);
      }
    },
  }) as unknown as AnyFunctionTool;
  frameworkName = created.name;
  return created;
}

/** The SDK sends tool output to the model as text; objects go as JSON. */
function serialize(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? '';
}

export { createFrameworkApprovals } from './approvals.js';
export type { FrameworkApprovals, FrameworkApprovalsOptions, FrameworkDecision } from './approvals.js';
export { parseDenial } from './denial.js';
export type { DenialMessage, DenialMode } from './denial.js';
