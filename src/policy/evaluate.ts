/**
 * Layered policy evaluation: every engine is asked, a deny anywhere wins, then any
 * require_approval, else allow. An engine that throws, answers nonsense or runs past the
 * deadline is a denial (`policy_error`), never an allow.
 */
import type { PolicyDecision, PolicyEngine, PolicyRequest } from './types.js';

export type LayeredDecision =
  | { readonly effect: 'allow' | 'require_approval' | 'deny'; readonly policyIds: readonly string[]; readonly reason: string; readonly error?: undefined }
  | { readonly effect: 'error'; readonly policyIds: readonly string[]; readonly reason: string; readonly error: unknown };

const EFFECTS = new Set(['allow', 'deny', 'require_approval']);

class PolicyTimeoutError extends Error {
  constructor(engine: string, ms: number) {
    super(`policy engine "${engine}" did not answer within ${ms} ms`);
    this.name = 'PolicyTimeoutError';
  }
}

function withDeadline<T>(value: T | Promise<T>, ms: number, engine: string): T | Promise<T> {
  // Any thenable gets the deadline, not only native promises: a foreign thenable could hang too.
  if (value === null || typeof value !== 'object' || typeof (value as { then?: unknown }).then !== 'function') return value;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PolicyTimeoutError(engine, ms)), ms);
  });
  return Promise.race([Promise.resolve(value), deadline]).finally(() => clearTimeout(timer));
}

/** Only string ids reach spans and errors, whatever an engine returned. */
function ids(value: unknown): readonly string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string').slice(0, 64) : [];
}

type Collected = { engine: string; decision: PolicyDecision }[];

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';

function failed(engine: PolicyEngine, error: unknown): LayeredDecision {
  const why = error instanceof PolicyTimeoutError ? error.message : `policy engine "${engine.name}" failed`;
  return { effect: 'error', policyIds: [], reason: why, error };
}

/** Records one engine's answer; returns a final decision when it ends the evaluation. */
function accept(engine: PolicyEngine, decision: PolicyDecision, collected: Collected): LayeredDecision | undefined {
  if (decision === null || typeof decision !== 'object' || !EFFECTS.has(decision.effect)) {
    return { effect: 'error', policyIds: [], reason: `policy engine "${engine.name}" returned no valid decision`, error: undefined };
  }
  if (decision.effect === 'deny') {
    return {
      effect: 'deny',
      policyIds: ids(decision.policyIds),
      reason: decision.reason ?? `denied by policy engine "${engine.name}"`,
    };
  }
  collected.push({ engine: engine.name, decision });
  return undefined;
}

function combine(collected: Collected): LayeredDecision {
  const approval = collected.filter((d) => d.decision.effect === 'require_approval');
  if (approval.length > 0) {
    return {
      effect: 'require_approval',
      policyIds: approval.flatMap((d) => ids(d.decision.policyIds)),
      reason: approval.map((d) => d.decision.reason ?? `policy engine "${d.engine}" requires approval`).join('; '),
    };
  }
  return { effect: 'allow', policyIds: collected.flatMap((d) => ids(d.decision.policyIds)), reason: 'allowed by policy' };
}

async function continueAsync(
  engines: readonly PolicyEngine[],
  from: number,
  pending: PromiseLike<unknown>,
  collected: Collected,
  request: PolicyRequest,
  timeoutMs: number,
): Promise<LayeredDecision> {
  for (let i = from; i < engines.length; i++) {
    const engine = engines[i]!;
    let decision: PolicyDecision;
    try {
      const answer = i === from ? pending : engine.evaluate(request);
      decision = (await withDeadline(answer as PolicyDecision | Promise<PolicyDecision>, timeoutMs, engine.name)) as PolicyDecision;
    } catch (error) {
      return failed(engine, error);
    }
    const final = accept(engine, decision, collected);
    if (final !== undefined) return final;
  }
  return combine(collected);
}

/**
 * Asks every engine in order. Answers synchronously when every engine does, so that a guard with
 * in-process rules never waits; the first engine that answers with a promise switches to the
 * asynchronous path, with its deadline.
 */
export function evaluatePolicies(
  engines: readonly PolicyEngine[],
  request: PolicyRequest,
  timeoutMs: number,
): LayeredDecision | Promise<LayeredDecision> {
  const collected: Collected = [];
  for (let i = 0; i < engines.length; i++) {
    const engine = engines[i]!;
    let answer: PolicyDecision | Promise<PolicyDecision>;
    try {
      answer = engine.evaluate(request);
    } catch (error) {
      return failed(engine, error);
    }
    if (isThenable(answer)) return continueAsync(engines, i, answer, collected, request, timeoutMs);
    const final = accept(engine, answer, collected);
    if (final !== undefined) return final;
  }
  return combine(collected);
}
