/**
 * The built-in rules engine: RBAC as the baseline, plus conditions on the request. Rules are
 * validated and compiled once; a call runs plain closures over the rules that can apply to its
 * tool (indexed by tool name on first use).
 *
 * Precedence: a matching `forbid` denies; else a matching `require_approval` asks a human; else a
 * matching `permit` allows (but a high-risk tier still asks unless the permit says
 * `requireApproval: false`); else the document's `default` (deny unless set to allow).
 */
import { z } from 'zod';
import { compileConstraint, type CompiledConstraint } from '../capability/constraints.js';
import { parseOptions } from '../util/options.js';
import { durationSeconds } from '../util/time.js';
import { formatPath, InvalidPolicyError } from './errors.js';
import { compileGlobs, compileIdentityMatcher, compileTimeWindow, matchesScalar } from './match.js';
import { rulesDocumentSchema, type Rule, type RulesDocument } from './rules-schema.js';
import { HIGH_RISK_TIERS, riskArticle, type PolicyDecision, type PolicyEngine, type PolicyRequest } from './types.js';

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
  /** The tool names the rule lists without a wildcard; undefined when it lists none (applies to every tool). */
  readonly exactTools: readonly string[] | undefined;
  /** Whether the rule's tool list has a wildcard, so it must be tested against each tool name. */
  readonly hasGlob: boolean;
  /** Indices into the engine's shared conditions (see `intern`). */
  readonly checks: readonly number[];
  /** Counts the call and reports whether the rate is exceeded; runs only after every other check matched. */
  readonly rate: ((req: PolicyRequest) => boolean) | undefined;
  readonly requireApproval: boolean | undefined;
}

export interface RulesEngine extends PolicyEngine {
  /** The rule ids, in document order. */
  readonly ruleIds: readonly string[];
}

/** Validates a rules document (or throws `InvalidPolicyError`) and compiles it into an engine. */
const optionsSchema = z.strictObject({
  name: z.string().min(1).optional(),
  source: z.string().optional(),
  maxTrackedAgents: z.number().int().positive().optional(),
});

export function createRulesEngine(document: RulesDocument | unknown, options: RulesEngineOptions = {}): RulesEngine {
  parseOptions(optionsSchema, options, 'createRulesEngine options');
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

  // Rules often repeat a condition (the same environment, risk tiers or depth bound): identical
  // conditions are compiled once and evaluated at most once per request.
  const conditions: Check[] = [];
  const conditionIndex = new Map<string, number>();
  const intern = (key: string, make: () => Check): number => {
    let i = conditionIndex.get(key);
    if (i === undefined) {
      i = conditions.push(make()) - 1;
      conditionIndex.set(key, i);
    }
    return i;
  };
  const rules = doc.rules.map((r) => compileRule(r, roleMatchers, maxTracked, intern));
  // Per-request memo: memo[i] holds 2*generation + result once condition i ran for this request.
  // Evaluation is synchronous, so one memo serves every call.
  const memo = new Float64Array(conditions.length);
  let generation = 0;
  // The tool index: rules that name a tool exactly are found through a map, and only the rules
  // with a glob or no tool list are tested against a tool name, once per tool.
  const exact = new Map<string, number[]>();
  const open: number[] = [];
  rules.forEach((r, i) => {
    if (r.exactTools === undefined) {
      open.push(i);
      return;
    }
    for (const t of r.exactTools) {
      const list = exact.get(t);
      if (list === undefined) exact.set(t, [i]);
      else if (list[list.length - 1] !== i) list.push(i);
    }
    if (r.hasGlob) open.push(i);
  });
  const byTool = new Map<string, readonly CompiledRule[]>();
  const rulesFor = (tool: string): readonly CompiledRule[] => {
    let list = byTool.get(tool);
    if (list === undefined) {
      const at = new Set(exact.get(tool));
      for (const i of open) if (!at.has(i) && rules[i]!.appliesToTool(tool)) at.add(i);
      // Document order, as the rules were written.
      list = [...at].sort((a, b) => a - b).map((i) => rules[i]!);
      // Tool names come from registered tools, not from the model, so this index stays small.
      byTool.set(tool, list);
    }
    return list;
  };
  const defaultAllow = doc.default === 'allow';

  const evaluate = (req: PolicyRequest): PolicyDecision => {
    generation += 1;
    const stamp = generation * 2;
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
      for (const i of rule.checks) {
        let m = memo[i]!;
        if (m < stamp) {
          m = stamp + (conditions[i]!(req, rolesOf) ? 1 : 0);
          memo[i] = m;
        }
        if (m === stamp) {
          ok = false;
          break;
        }
      }
      if (!ok || (rule.rate !== undefined && !rule.rate(req))) continue;
      if (rule.effect === 'forbid') (forbid ??= []).push(rule);
      else if (rule.effect === 'require_approval' || rule.requireApproval === true) (approve ??= []).push(rule);
      else (permit ??= []).push(rule);
    }
    if (forbid !== undefined) return decided('deny', forbid.map((r) => r.id), 'forbidden', forbid);
    if (approve !== undefined) return decided('require_approval', approve.map((r) => r.id), 'approval required', approve);
    const highRisk = HIGH_RISK_TIERS.has(req.tool.risk);
    if (permit !== undefined) {
      const ids = permit.map((r) => r.id);
      if (!highRisk || permit.some((r) => r.requireApproval === false)) return decided('allow', ids, 'permitted', permit);
      return {
        effect: 'require_approval',
        policyIds: [...ids, RULES_HIGH_RISK_ID],
        reason: `"${req.tool.name}" is ${riskArticle(req.tool.risk)} ${req.tool.risk} action: permitted by rule ${ids.map((i) => `"${i}"`).join(', ')}, but a human must approve it (set requireApproval: false on the rule to skip)`,
      };
    }
    if (defaultAllow) {
      if (!highRisk) return { effect: 'allow', policyIds: [RULES_DEFAULT_ID], reason: 'no rule matched; the rules default is allow' };
      return {
        effect: 'require_approval',
        policyIds: [RULES_DEFAULT_ID, RULES_HIGH_RISK_ID],
        reason: `"${req.tool.name}" is ${riskArticle(req.tool.risk)} ${req.tool.risk} action and no rule decided it, so a human must approve it`,
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

/**
 * A decision whose reason is written only if someone reads it: an allow's reason is usually
 * dropped, and with many matching rules writing it is a good part of the call.
 */
function decided(effect: 'allow' | 'deny' | 'require_approval', ids: readonly string[], what: string, matched: readonly CompiledRule[]): PolicyDecision {
  let text: string | undefined;
  return {
    effect,
    policyIds: ids,
    get reason(): string {
      return (text ??= explain(what, matched));
    },
  };
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
  intern: (key: string, make: () => Check) => number,
): CompiledRule {
  const checks: number[] = [];
  // Each condition is keyed by its kind and its definition: equal keys are the same condition.
  const add = (kind: string, definition: unknown, make: () => Check): void => {
    checks.push(intern(`${kind}:${JSON.stringify(definition)}`, make));
  };
  if (r.risk !== undefined) {
    const tiers = new Set<string>(r.risk);
    add('risk', r.risk, () => (req) => tiers.has(req.tool.risk));
  }
  if (r.roles !== undefined) {
    const wanted = r.roles.filter((role) => roleMatchers.has(role));
    add('roles', wanted, () => (_req, roles) => {
      const has = roles();
      return wanted.some((role) => has.has(role));
    });
  }
  if (r.agents !== undefined) {
    const globs = r.agents;
    add('agents', globs, () => {
      const m = compileGlobs(globs);
      return (req) => m(req.agent.id);
    });
  }
  if (r.intent !== undefined) {
    const ids = r.intent.id === undefined ? undefined : compileGlobs(r.intent.id);
    const words = r.intent.purposeIncludes?.map((w) => w.toLowerCase());
    add('intent', r.intent, () => (req) => {
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
    add('environment', entries, () => (req) => {
      for (const [k, want] of entries) if (!Object.hasOwn(req.environment, k) || !matchesScalar(req.environment[k], want)) return false;
      return true;
    });
  }
  if (r.during !== undefined) {
    const inside = compileTimeWindow(r.during);
    add('during', r.during, () => (req) => inside(req.time));
  }
  if (r.outside !== undefined) {
    const inside = compileTimeWindow(r.outside);
    add('outside', r.outside, () => (req) => !inside(req.time));
  }
  if (r.delegationDepth !== undefined) {
    const t = r.delegationDepth;
    add('depth', t, () => (req) => {
      const d = req.delegation.depth;
      return (t.eq === undefined || d === t.eq) && (t.lt === undefined || d < t.lt) && (t.lte === undefined || d <= t.lte) && (t.gt === undefined || d > t.gt) && (t.gte === undefined || d >= t.gte);
    });
  }
  if (r.args !== undefined) {
    // A rule's argument condition reuses the grant constraint language, so both read the same.
    // A value no check can judge makes a forbid or approval rule match, never slip past it.
    const options = r.effect === 'permit' ? {} : { unjudgeable: 'holds' as const };
    const fields: [string, CompiledConstraint][] = Object.entries(r.args).map(([k, c]) => [k, compileConstraint(c, options)]);
    add('args', r.args, () => (req) => {
      for (const [k, check] of fields) if (check(Object.hasOwn(req.args, k) ? req.args[k] : undefined, k) !== undefined) return false;
      return true;
    });
  }
  return {
    id: r.id,
    effect: r.effect,
    reason: r.reason ?? r.description,
    appliesToTool: r.tools === undefined ? () => true : compileGlobs(r.tools),
    exactTools: r.tools?.filter((t) => !t.includes('*')),
    hasGlob: r.tools?.some((t) => t.includes('*')) ?? false,
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
