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

export async function evaluatePolicies(
  engines: readonly PolicyEngine[],
  request: PolicyRequest,
  timeoutMs: number,
): Promise<LayeredDecision> {
  const decisions: { engine: string; decision: PolicyDecision }[] = [];
  for (const engine of engines) {
    let decision: PolicyDecision;
    try {
      decision = await withDeadline(engine.evaluate(request), timeoutMs, engine.name);
    } catch (error) {
      const why = error instanceof PolicyTimeoutError ? error.message : `policy engine "${engine.name}" failed`;
      return { effect: 'error', policyIds: [], reason: why, error };
    }
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
    decisions.push({ engine: engine.name, decision });
  }
  const approval = decisions.filter((d) => d.decision.effect === 'require_approval');
  if (approval.length > 0) {
    return {
      effect: 'require_approval',
      policyIds: approval.flatMap((d) => ids(d.decision.policyIds)),
      reason: approval.map((d) => d.decision.reason ?? `policy engine "${d.engine}" requires approval`).join('; '),
    };
  }
  return { effect: 'allow', policyIds: decisions.flatMap((d) => ids(d.decision.policyIds)), reason: 'allowed by policy' };
}
