/**
 * An approver for CI and tests: answers from a script instead of a person, and keeps every
 * request it saw so a test can assert what a human would have been shown.
 */
import { z } from 'zod';
import { parseOptions } from '../util/options.js';
import { bindingOf } from './approval.js';
import type { ApprovalAnswer, ApprovalRequest, Approver } from './types.js';

/**
 * One scripted answer: `approve`, `deny`, `hang` (never answers, so the guard's deadline
 * decides), or a literal answer to return as is.
 */
export type ScriptedStep = 'approve' | 'deny' | 'hang' | ApprovalAnswer;

export interface ScriptedApproverOptions {
  /** The approver identity recorded on spans; default `ci`. */
  approver?: string;
}

export interface ScriptedApprover extends Approver {
  /** Requests received, in order (without the abort signal). */
  readonly requests: readonly Omit<ApprovalRequest, 'signal'>[];
  /** Steps not used yet. */
  readonly remaining: number;
}

/**
 * `steps` is either a list used in order, or a function of the request. When the list runs out
 * the approver denies: a script that did not foresee a request must not approve it.
 */
const optionsSchema = z.strictObject({ approver: z.string().min(1).optional() });

export function createScriptedApprover(
  steps: readonly ScriptedStep[] | ((request: Omit<ApprovalRequest, 'signal'>) => ScriptedStep),
  options: ScriptedApproverOptions = {},
): ScriptedApprover {
  if (!Array.isArray(steps) && typeof steps !== 'function') throw new TypeError('createScriptedApprover needs a list of steps or a function');
  parseOptions(optionsSchema, options, 'createScriptedApprover options');
  const who = options.approver ?? 'ci';
  const queue = Array.isArray(steps) ? [...(steps as readonly ScriptedStep[])] : undefined;
  const requests: Omit<ApprovalRequest, 'signal'>[] = [];
  const approver = ({ signal, ...request }: ApprovalRequest): Promise<ApprovalAnswer> | ApprovalAnswer => {
    requests.push(Object.freeze(request));
    const step = queue === undefined ? (steps as (r: typeof request) => ScriptedStep)(request) : queue.shift();
    if (step === undefined) return { approved: false, approver: who, reason: 'the approval script has no answer for this request' };
    if (step === 'approve') return { approved: true, approver: who, binding: bindingOf(request) };
    if (step === 'deny') return { approved: false, approver: who, reason: 'denied by the approval script' };
    if (step === 'hang') {
      return new Promise<ApprovalAnswer>((resolve) => {
        signal.addEventListener('abort', () => resolve({ approved: false, approver: who, reason: 'no answer before the deadline' }), { once: true });
      });
    }
    return step;
  };
  Object.defineProperties(approver, {
    requests: { get: () => requests, enumerable: true },
    remaining: { get: () => queue?.length ?? Infinity, enumerable: true },
  });
  return approver as ScriptedApprover;
}
