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

function withDeadline<T>(value: T | Promise<T>, ms: number, engine: string): T | Promise<T> {
  if (!(value instanceof Promise)) return value;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`policy engine "${engine}" did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([value, deadline]).finally(() => clearTimeout(timer));
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
      const why = error instanceof Error && /did not answer within/.test(error.message) ? error.message : `policy engine "${engine.name}" failed`;
      return { effect: 'error', policyIds: [], reason: why, error };
    }
    if (decision === null || typeof decision !== 'object' || !EFFECTS.has(decision.effect)) {
      return { effect: 'error', policyIds: [], reason: `policy engine "${engine.name}" returned no valid decision`, error: undefined };
    }
    if (decision.effect === 'deny') {
      return {
        effect: 'deny',
        policyIds: decision.policyIds ?? [],
        reason: decision.reason ?? `denied by policy engine "${engine.name}"`,
      };
    }
    decisions.push({ engine: engine.name, decision });
  }
  const approval = decisions.filter((d) => d.decision.effect === 'require_approval');
  if (approval.length > 0) {
    return {
      effect: 'require_approval',
      policyIds: approval.flatMap((d) => d.decision.policyIds ?? []),
      reason: approval.map((d) => d.decision.reason ?? `policy engine "${d.engine}" requires approval`).join('; '),
    };
  }
  return { effect: 'allow', policyIds: decisions.flatMap((d) => d.decision.policyIds ?? []), reason: 'allowed by policy' };
}
