/**
 * Vercel AI SDK adapter (`tessera-guard/ai-sdk`): a guarded tool becomes an AI SDK `Tool`.
 *
 * The result is the plain tool object that `tool()` from `ai` returns (`description`,
 * `inputSchema`, `execute`, `needsApproval`), so it works with `generateText`/`streamText` in
 * v6 and can be passed through v7's `tool()` as well. The AI SDK's tool-call id becomes the
 * guard's call id (span `gen_ai.tool.call.id`) and its abort signal cancels the call.
 *
 * Approval is wired once, on the guard: `createGuard({ approver: approvals.approver })` with
 * `approvals = createFrameworkApprovals()`. The adapter then asks the guard first
 * (`guard.preflight`) and sets `needsApproval` only for a call the guard would let through with
 * a human's approval; the AI SDK stops and emits a `tool-approval-request`, the host answers
 * with a `tool-approval-response`, and the adapter reads that answer for this tool-call id from
 * the messages the SDK passes to `execute` and hands it to the guard's approver. The guard still
 * decides. A guard with another approver (or none) gets no `needsApproval` from this adapter.
 */
import type { ModelMessage, Tool, ToolExecutionOptions } from 'ai';
import { z } from 'zod';
import type { GuardedTool } from '../guard/types.js';
import { frameworkApprovalsOf, unreachableApprovals, type FrameworkDecision } from './approvals.js';
import { asDenial, denialMessage, denialModeSchema, functionSchema, parseOptions, type DenialMessage, type DenialMode } from './denial.js';

export interface AISDKToolOptions<I = unknown> {
  /** `message` (default): a denial becomes the tool's result; `throw`: it becomes a `tool-error`. */
  onDenial?: DenialMode;
  /**
   * Ask the AI SDK's approval flow first. Default: when the guard's approver is framework
   * approvals, exactly the calls `guard.preflight` answers `require_approval` for; otherwise never.
   */
  needsApproval?: boolean | ((input: I, options: { toolCallId: string; messages: ModelMessage[] }) => boolean | Promise<boolean>);
  /** Overrides the description the model sees. */
  description?: string;
}

const optionsSchema = z.strictObject({
  onDenial: denialModeSchema.optional(),
  needsApproval: z.union([z.boolean(), functionSchema]).optional(),
  description: z.string().optional(),
});

/** The approval response the host gave for this tool call, as the AI SDK recorded it. */
export function approvalFromMessages(messages: readonly ModelMessage[], toolCallId: string): { approved: boolean; approvalId: string; reason?: string } | undefined {
  const approvalIds = new Set<string>();
  for (const m of messages) {
    if (m.role !== 'assistant' || typeof m.content === 'string') continue;
    for (const part of m.content) {
      if (part.type === 'tool-approval-request' && part.toolCallId === toolCallId) approvalIds.add(part.approvalId);
    }
  }
  if (approvalIds.size === 0) return undefined;
  let answer: { approved: boolean; approvalId: string; reason?: string } | undefined;
  for (const m of messages) {
    if (m.role !== 'tool') continue;
    for (const part of m.content) {
      if (part.type === 'tool-approval-response' && approvalIds.has(part.approvalId)) {
        answer = { approved: part.approved === true, approvalId: part.approvalId, ...(typeof part.reason === 'string' ? { reason: part.reason } : {}) };
      }
    }
  }
  return answer;
}

/** Turns a guarded tool into an AI SDK tool. */
export function toAISDKTool<S extends z.ZodType, R>(guarded: GuardedTool<S, R>, options: AISDKToolOptions<z.input<S>> = {}): Tool<z.input<S>, R | DenialMessage> {
  type I = z.input<S>;
  parseOptions(optionsSchema, options, 'toAISDKTool');
  const def = guarded.definition;
  const mode = options.onDenial ?? 'message';
  const approvals = frameworkApprovalsOf(guarded.guard);
  if (approvals === undefined && options.needsApproval !== undefined && options.needsApproval !== false) {
    throw unreachableApprovals('toAISDKTool', def.name, 'the AI SDK');
  }
  const needsApproval =
    options.needsApproval ??
    (approvals === undefined
      ? false
      : async (input: I, { toolCallId }: { toolCallId: string }) =>
          (await guarded.guard.preflight(guarded, input, { callId: toolCallId })).decision === 'require_approval');

  const missing = `the AI SDK did not ask a human about it (needsApproval of toAISDKTools answered false for "${def.name}", or the messages passed to generateText lack its tool-approval-response)`;

  const execute = async (input: I, { toolCallId, abortSignal, messages }: ToolExecutionOptions): Promise<R | DenialMessage> => {
    const call = (): Promise<R> => guarded(input, { callId: toolCallId, ...(abortSignal ? { signal: abortSignal } : {}) });
    try {
      if (approvals === undefined) return await call();
      const answer = approvalFromMessages(messages, toolCallId);
      const decision: FrameworkDecision | undefined =
        answer === undefined
          ? undefined
          : {
              tool: def.name,
              callId: toolCallId,
              approved: answer.approved,
              approver: 'ai-sdk tool approval',
              id: `ai-sdk:${answer.approvalId}`,
              ...(answer.reason === undefined ? {} : { reason: answer.reason }),
            };
      return await approvals.run(
        decision ?? { tool: def.name, callId: toolCallId, missing },
        call,
      );
    } catch (err) {
      const denial = asDenial(err);
      if (denial === undefined || mode === 'throw') throw err;
      return denialMessage(denial);
    }
  };

  return {
    description: options.description ?? def.description,
    inputSchema: def.input as unknown as Tool<I, R | DenialMessage>['inputSchema'],
    needsApproval: needsApproval as Tool<I, R | DenialMessage>['needsApproval'],
    execute,
  } as unknown as Tool<I, R | DenialMessage>;
}

/** Turns several guarded tools into the `tools` record `generateText` takes, keyed by name. */
export function toAISDKTools(
  tools: readonly GuardedTool<z.ZodType, unknown>[],
  options: AISDKToolOptions & { names?: Readonly<Record<string, string>> } = {},
): Record<string, Tool> {
  const { names, ...rest } = options;
  const out: Record<string, Tool> = Object.create(null);
  for (const t of tools) {
    const key = names?.[t.definition.name] ?? t.definition.name;
    if (Object.hasOwn(out, key)) throw new TypeError(`toAISDKTools: two tools are named "${key}"`);
    out[key] = toAISDKTool(t, rest as AISDKToolOptions) as Tool;
  }
  return out;
}

export { createFrameworkApprovals } from './approvals.js';
export type { FrameworkApprovals, FrameworkApprovalsOptions, FrameworkDecision, FrameworkNoDecision } from './approvals.js';
export { parseDenial } from './denial.js';
export type { DenialMessage, DenialMode } from './denial.js';
