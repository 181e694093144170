/**
 * Framework approvals reach the guard through its `approver`, wired once:
 * `createGuard({ approver: createFrameworkApprovals().approver })`. Every adapter finds them
 * through the guarded tool's guard; nothing else is passed to the adapters.
 *
 * A framework that has its own human-in-the-loop flow (AI SDK tool approvals, OpenAI Agents
 * interruptions, LangChain's human-in-the-loop middleware) records the human's decision for one
 * tool call. The guard still runs its own policy and, when policy requires approval, asks
 * `approvals.approver`, which answers only from a decision recorded for that exact tool and
 * call id. No recorded decision means no approval: a call the framework never put in front of a
 * human is denied (`approval_denied`) with a reason that says what was missing, unless a
 * `fallback` approver is configured.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { z } from 'zod';
import type { ApprovalAnswer, ApprovalRequest, Approver } from '../policy/types.js';
import { GUARD_RUNTIME, type GuardInternals } from '../guard/create-guard.js';
import type { Guard } from '../guard/types.js';
import type { Clock } from '../util/time.js';
import { functionSchema, parseOptions } from './denial.js';

/** A human's decision on one tool call, as the framework recorded it. */
export interface FrameworkDecision {
  /** The guard's tool name (not the framework's possibly rewritten one). */
  readonly tool: string;
  /** The framework's tool-call id; the guard's call id for the same call. */
  readonly callId: string;
  readonly approved: boolean;
  /** Who decided, recorded on the span. Default `"<framework> approval"`. */
  readonly approver?: string;
  readonly reason?: string;
  /**
   * The approval's id in the framework (e.g. the AI SDK's approval id). Passed on as the
   * answer's `id`, so the guard accepts each approval once across every process sharing its store.
   */
  readonly id?: string;
}

/** A call that reached the tool without a human decision, and what the framework did not do. */
export interface FrameworkNoDecision {
  readonly tool: string;
  readonly callId: string;
  /** Completes "no decision recorded for call <id>: …" in the denial's reason. */
  readonly missing: string;
}

export interface FrameworkApprovals {
  /** Give this to `createGuard({ approver })`; the adapters find it there. */
  readonly approver: Approver;
  /**
   * Runs one guarded call with the framework's decision for it (or the lack of one) in scope.
   * Adapters call this when the decision is known where the tool executes.
   */
  run<T>(decision: FrameworkDecision | FrameworkNoDecision | undefined, fn: () => T): T;
  /**
   * Keeps a decision made elsewhere (a middleware hook) until the call runs. Single use; it
   * expires after `ttlMs`.
   */
  record(key: string, decision: FrameworkDecision): void;
  /** Removes and returns the decision kept under `key`, if it has not expired. */
  take(key: string): FrameworkDecision | undefined;
}

export interface FrameworkApprovalsOptions {
  /** Asked when no framework decision exists for the call (e.g. a tool the framework never paused on). */
  fallback?: Approver;
  /** How long a recorded decision waits for its call; default 15 minutes. */
  ttlMs?: number;
  /** Most decisions kept at once; the oldest is dropped beyond it. Default 10,000. */
  maxPending?: number;
  clock?: Clock;
}

const fn = functionSchema;

const optionsSchema = z.strictObject({
  fallback: fn.optional(),
  ttlMs: z.number().int().positive().max(24 * 3_600_000).optional(),
  maxPending: z.number().int().positive().max(1_000_000).optional(),
  clock: fn.optional(),
});

export function createFrameworkApprovals(options: FrameworkApprovalsOptions = {}): FrameworkApprovals {
  parseOptions(optionsSchema, options, 'createFrameworkApprovals');
  const fallback = options.fallback;
  const ttlMs = options.ttlMs ?? 15 * 60_000;
  const maxPending = options.maxPending ?? 10_000;
  const clock = options.clock ?? Date.now;
  const scope = new AsyncLocalStorage<FrameworkDecision | FrameworkNoDecision>();
  const pending = new Map<string, { decision: FrameworkDecision; expiresAt: number }>();

  const approver: Approver = (request: ApprovalRequest): ApprovalAnswer | Promise<ApprovalAnswer> => {
    const d = scope.getStore();
    // The decision must be for this very call: a decision in scope for one call never approves
    // a nested or different call made while it runs.
    const forThisCall = d !== undefined && d.callId === request.callId && d.tool === request.tool;
    if (forThisCall && 'approved' in d) {
      return {
        approved: d.approved,
        approver: d.approver ?? 'framework approval',
        ...(d.reason === undefined ? {} : { reason: d.reason }),
        ...(d.approved && d.id !== undefined ? { id: d.id } : {}),
      };
    }
    if (fallback !== undefined) return fallback(request);
    const missing =
      forThisCall && 'missing' in d
        ? d.missing
        : 'it did not come through an adapter of this guard (toAISDKTools, toOpenAIAgentsTools, toLangChainTools), so no framework asked a human';
    return { approved: false, approver: 'framework approval', reason: `no decision recorded for call ${request.callId}: ${missing}` };
  };

  const approvals: FrameworkApprovals = {
    approver,
    run: (decision, fn) => (decision === undefined ? fn() : scope.run(decision, fn)),
    record(key, decision) {
      const now = clock();
      if (pending.size >= maxPending) {
        for (const [k, v] of pending) {
          if (v.expiresAt <= now || pending.size >= maxPending) pending.delete(k);
          else break;
        }
      }
      pending.delete(key);
      pending.set(key, { decision, expiresAt: now + ttlMs });
    },
    take(key) {
      const entry = pending.get(key);
      if (entry === undefined) return undefined;
      pending.delete(key);
      return entry.expiresAt > clock() ? entry.decision : undefined;
    },
  };
  REGISTERED.set(approver, approvals);
  return approvals;
}

const REGISTERED = new WeakMap<Approver, FrameworkApprovals>();

/** The framework approvals this guard was created with, if its approver is one. */
export function frameworkApprovalsOf(guard: Guard): FrameworkApprovals | undefined {
  const approver = (guard as Partial<GuardInternals> | undefined)?.[GUARD_RUNTIME]?.approver;
  return approver === undefined ? undefined : REGISTERED.get(approver);
}

/** The startup error for a framework asked to collect approvals the guard cannot receive. */
export function unreachableApprovals(adapter: string, tool: string, framework: string): TypeError {
  return new TypeError(
    `${adapter}: tool "${tool}": needsApproval makes ${framework} ask a human, but the guard cannot receive the answer: ` +
      'create the guard with { approver: approvals.approver } where approvals = createFrameworkApprovals()',
  );
}
