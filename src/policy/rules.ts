/**
 * The built-in rules engine: RBAC as the baseline, plus conditions on the request. Rules are
 * validated and compiled once; a call runs plain closures over the rules that can apply to its
 * tool (indexed by tool name on first use).
 *
 * Precedence: a matching `forbid` denies; else a matching `require_approval` asks a human; else a
 * matching `permit` allows (but a high-risk tier still asks unless the permit says
 * `requireApproval: false`); else the document's `default` (deny unless set to allow).
 */
import { compileConstraint, type CompiledConstraint } from '../capability/constraints.js';
import { durationSeconds } from '../util/time.js';
import { formatPath, InvalidPolicyError } from './errors.js';
import { compileGlobs, compileIdentityMatcher, compileTimeWindow, matchesScalar } from './match.js';
import { rulesDocumentSchema, type Rule, type RulesDocument } from './rules-schema.js';
import { HIGH_RISK_TIERS, type PolicyDecision, type PolicyEngine, type PolicyRequest } from './types.js';

export type { RulesDocument } from './rules-schema.js';

export interface RulesEngineOptions {
  /** Engine name on spans and in reasons; default `rules`. */
  name?: string;
  /** Where the rules came from, for error messages; default `<rules>`. */
  source?: string;
  /** Most agents tracked per rate-limited rule; beyond it calls are refused (fail closed). Default 100,000. */
  maxTrackedAgents?: number;
}

/** The id reported when no rule matched and the document's default decided. */
export const RULES_DEFAULT_ID = 'tessera.rules.default';
/** The id reported when a high-risk tier turned a permit into an approval request. */
export const RULES_HIGH_RISK_ID = 'tessera.rules.high-risk';

type Check = (req: PolicyRequest, roles: () => ReadonlySet<string>) => boolean;

interface CompiledRule {
  readonly id: string;
  readonly effect: Rule['effect'];
  readonly reason: string | undefined;
  readonly appliesToTool: (tool: string) => boolean;
  readonly checks: readonly Check[];
  /** Counts the call and reports whether the rate is exceeded; runs only after every other check matched. */
  readonly rate: ((req: PolicyRequest) => boolean) | undefined;
  readonly requireApproval: boolean | undefined;
}

export interface RulesEngine extends PolicyEngine {
  /** The rule ids, in document order. */
  readonly ruleIds: readonly string[];
}

/** Validates a rules document (or throws `InvalidPolicyError`) and compiles it into an engine. */
export function createRulesEngine(document: RulesDocument | unknown, options: RulesEngineOptions = {}): RulesEngine {
  const source = options.source ?? '<rules>';
  const parsed = rulesDocumentSchema.safeParse(document, { reportInput: false });
  if (!parsed.success) {
    throw new InvalidPolicyError(
      source,
      parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    );
  }
  const doc = parsed.data;
  const name = options.name ?? 'rules';
  const maxTracked = options.maxTrackedAgents ?? 100_000;

  const roleMatchers = new Map<string, ((agent: PolicyRequest['agent']) => boolean)[]>();
  for (const [role, matchers] of Object.entries(doc.roles ?? {})) roleMatchers.set(role, matchers.map(compileIdentityMatcher));

  const rules = doc.rules.map((r) => compileRule(r, roleMatchers, maxTracked));
  const byTool = new Map<string, readonly CompiledRule[]>();
  const rulesFor = (tool: string): readonly CompiledRule[] => {
    let list = byTool.get(tool);
    if (list === undefined) {
      list = rules.filter((r) => r.appliesToTool(tool));
      // Tool names come from registered tools, not from the model, so this index stays small.
      byTool.set(tool, list);
    }
    return list;
  };
  const defaultAllow = doc.default === 'allow';

  const evaluate = (req: PolicyRequest): PolicyDecision => {
    let roles: ReadonlySet<string> | undefined;
    const rolesOf = (): ReadonlySet<string> => {
      if (roles === undefined) {
        const has = new Set<string>();
        for (const [role, matchers] of roleMatchers) if (matchers.some((m) => m(req.agent))) has.add(role);
        roles = has;
      }
      return roles;
    };
    let forbid: CompiledRule[] | undefined;
    let approve: CompiledRule[] | undefined;
    let permit: CompiledRule[] | undefined;
    for (const rule of rulesFor(req.tool.name)) {
      let ok = true;
      for (const check of rule.checks) {
        if (!check(req, rolesOf)) {
          ok = false;
          break;
        }
      }
      if (!ok || (rule.rate !== undefined && !rule.rate(req))) continue;
      if (rule.effect === 'forbid') (forbid ??= []).push(rule);
      else if (rule.effect === 'require_approval' || rule.requireApproval === true) (approve ??= []).push(rule);
      else (permit ??= []).push(rule);
    }
    if (forbid !== undefined) {
      return { effect: 'deny', policyIds: forbid.map((r) => r.id), reason: explain('forbidden', forbid) };
    }
    if (approve !== undefined) {
      return { effect: 'require_approval', policyIds: approve.map((r) => r.id), reason: explain('approval required', approve) };
    }
    const highRisk = HIGH_RISK_TIERS.has(req.tool.risk);
    if (permit !== undefined) {
      const ids = permit.map((r) => r.id);
      if (!highRisk || permit.some((r) => r.requireApproval === false)) return { effect: 'allow', policyIds: ids, reason: explain('permitted', permit) };
      return {
        effect: 'require_approval',
        policyIds: [...ids, RULES_HIGH_RISK_ID],
        reason: `"${req.tool.name}" is a ${req.tool.risk} action: permitted by rule ${ids.map((i) => `"${i}"`).join(', ')}, but a human must approve it (set requireApproval: false on the rule to skip)`,
      };
    }
    if (defaultAllow) {
      if (!highRisk) return { effect: 'allow', policyIds: [RULES_DEFAULT_ID], reason: 'no rule matched; the rules default is allow' };
      return {
        effect: 'require_approval',
        policyIds: [RULES_DEFAULT_ID, RULES_HIGH_RISK_ID],
        reason: `"${req.tool.name}" is a ${req.tool.risk} action and no rule decided it, so a human must approve it`,
      };
    }
    return {
      effect: 'deny',
      policyIds: [RULES_DEFAULT_ID],
      reason: `no rule permits "${req.agent.id}" to call "${req.tool.name}" (risk ${req.tool.risk}); add a permit rule for one of its roles`,
    };
  };

  return Object.freeze({ name, evaluate, ruleIds: Object.freeze(rules.map((r) => r.id)) });
}

function explain(what: string, rules: readonly CompiledRule[]): string {
  // A reason names the first few rules; every id is in policyIds anyway.
  let out = `${what} by `;
  const n = Math.min(rules.length, 3);
  for (let i = 0; i < n; i++) {
    const r = rules[i]!;
    out += `${i > 0 ? '; ' : ''}rule "${r.id}"${r.reason === undefined ? '' : `: ${r.reason}`}`;
  }
  return rules.length > n ? `${out}; and ${rules.length - n} more` : out;
}

function compileRule(
  r: Rule,
  roleMatchers: ReadonlyMap<string, unknown>,
  maxTracked: number,
): CompiledRule {
  const checks: Check[] = [];
  if (r.risk !== undefined) {
    const tiers = new Set<string>(r.risk);
    checks.push((req) => tiers.has(req.tool.risk));
  }
  if (r.roles !== undefined) {
    const wanted = r.roles.filter((role) => roleMatchers.has(role));
    checks.push((_req, roles) => {
      const has = roles();
      return wanted.some((role) => has.has(role));
    });
  }
  if (r.agents !== undefined) {
    const m = compileGlobs(r.agents);
    checks.push((req) => m(req.agent.id));
  }
  if (r.intent !== undefined) {
    const ids = r.intent.id === undefined ? undefined : compileGlobs(r.intent.id);
    const words = r.intent.purposeIncludes?.map((w) => w.toLowerCase());
    checks.push((req) => {
      if (ids !== undefined && !ids(req.intent.id)) return false;
      if (words !== undefined) {
        const purpose = req.intent.purpose.toLowerCase();
        if (!words.some((w) => purpose.includes(w))) return false;
      }
      return true;
    });
  }
  if (r.environment !== undefined) {
    const entries = Object.entries(r.environment);
    checks.push((req) => {
      for (const [k, want] of entries) if (!Object.hasOwn(req.environment, k) || !matchesScalar(req.environment[k], want)) return false;
      return true;
    });
  }
  if (r.during !== undefined) {
    const inside = compileTimeWindow(r.during);
    checks.push((req) => inside(req.time));
  }
  if (r.outside !== undefined) {
    const inside = compileTimeWindow(r.outside);
    checks.push((req) => !inside(req.time));
  }
  if (r.delegationDepth !== undefined) {
    const t = r.delegationDepth;
    checks.push((req) => {
      const d = req.delegation.depth;
      return (t.eq === undefined || d === t.eq) && (t.lt === undefined || d < t.lt) && (t.lte === undefined || d <= t.lte) && (t.gt === undefined || d > t.gt) && (t.gte === undefined || d >= t.gte);
    });
  }
  if (r.args !== undefined) {
    // A rule's argument condition reuses the grant constraint language, so both read the same.
    const fields: [string, CompiledConstraint][] = Object.entries(r.args).map(([k, c]) => [k, compileConstraint(c)]);
    checks.push((req) => {
      for (const [k, check] of fields) if (check(Object.hasOwn(req.args, k) ? req.args[k] : undefined, k) !== undefined) return false;
      return true;
    });
  }
  return {
    id: r.id,
    effect: r.effect,
    reason: r.reason ?? r.description,
    appliesToTool: r.tools === undefined ? () => true : compileGlobs(r.tools),
    checks,
    rate: r.rate === undefined ? undefined : compileRate(r.id, r.rate.max, durationSeconds(r.rate.per as `${number}s`, `rules.${r.id}.rate.per`) * 1000, maxTracked),
    requireApproval: r.requireApproval,
  };
}

/**
 * A fixed-window counter per agent, in this process. It counts calls that met every other
 * condition of the rule and matches once an agent passes `max` in the current window.
 */
function compileRate(ruleId: string, max: number, windowMs: number, maxTracked: number): (req: PolicyRequest) => boolean {
  const windows = new Map<string, { start: number; count: number }>();
  return (req) => {
    const now = req.time;
    let w = windows.get(req.agent.id);
    if (w === undefined || now - w.start >= windowMs) {
      if (w === undefined && windows.size >= maxTracked) {
        for (const [k, v] of windows) if (now - v.start >= windowMs) windows.delete(k);
        if (windows.size >= maxTracked) throw new Error(`rate table of rule "${ruleId}" is full`);
      }
      w = { start: now, count: 0 };
      windows.set(req.agent.id, w);
    }
    w.count++;
    return w.count > max;
  };
}
