/**
 * Subsumption: is every value a child constraint accepts also accepted by its parent's?
 *
 * A delegated capability may only narrow, so each of the parent's rules must be proven to hold
 * for everything the child allows. The proof is conservative: when it cannot be made (two
 * different patterns, a prefix that is not an extension of the parent's), the answer is "no"
 * and the delegation is refused. A wrongly refused narrowing is an inconvenience; a wrongly
 * accepted widening is an escalation.
 *
 * Finite children (`eq`, `in`) are decided exactly: each candidate value the child accepts is run
 * through the parent's own compiled rules, so every constraint kind is covered without a
 * second implementation of its semantics.
 */
import type { RetrievalBound, ToolGrant } from './claims.js';
import { compileConstraint, type ArgConstraint, type CompiledConstraint } from './constraints.js';

type RuleName = Exclude<keyof ArgConstraint, 'optional' | 'schemes' | 'unsafeAllowRelative'>;
const RULES: readonly RuleName[] = ['eq', 'in', 'startsWith', 'endsWith', 'min', 'max', 'maxLength', 'pattern', 'pathWithin', 'hostIn', 'fields', 'items'];

const quote = (v: unknown): string => {
  if (typeof v !== 'string') return String(v);
  const s = v.length > 60 ? `${v.slice(0, 57)}...` : v;
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
};

const list = (xs: readonly unknown[]): string =>
  `[${xs.slice(0, 5).map(quote).join(', ')}${xs.length > 5 ? `, … ${xs.length - 5} more` : ''}]`;

/** One rule of a constraint in words, e.g. `endsWith '@example.com'`. */
export function describeRule(c: ArgConstraint, rule: RuleName): string {
  switch (rule) {
    case 'in':
      return `in ${list(c.in ?? [])}`;
    case 'hostIn':
      return `hostIn ${list(c.hostIn ?? [])} over ${(c.schemes ?? ['https']).join('/')}`;
    case 'pathWithin':
      return `pathWithin ${quote(c.pathWithin)}${c.unsafeAllowRelative === true ? ' (relative paths allowed)' : ''}`;
    case 'fields':
      return `fields {${Object.keys(c.fields ?? {}).join(', ')}}`;
    case 'items':
      return `items (${c.items ? describeConstraint(c.items) : ''})`;
    default:
      return `${rule} ${quote(c[rule])}`;
  }
}

/** A whole constraint in words, e.g. `startsWith '/srv', maxLength 64`. */
export function describeConstraint(c: ArgConstraint | undefined): string {
  if (c === undefined) return 'no constraint';
  const parts = RULES.filter((r) => c[r] !== undefined).map((r) => describeRule(c, r));
  if (c.optional === true) parts.push('optional');
  return parts.length === 0 ? 'no constraint' : parts.join(', ');
}

/** The parent's rules one by one, each compiled alone so a failure names the rule that failed. */
function singleRules(parent: ArgConstraint): { rule: RuleName; check: CompiledConstraint }[] {
  const out: { rule: RuleName; check: CompiledConstraint }[] = [];
  for (const rule of RULES) {
    if (parent[rule] === undefined) continue;
    // A rule travels with the option that shapes it, or the single-rule check would be stricter
    // or looser than the parent's own.
    const only: ArgConstraint =
      rule === 'hostIn'
        ? { hostIn: parent.hostIn, schemes: parent.schemes }
        : rule === 'pathWithin'
          ? { pathWithin: parent.pathWithin, unsafeAllowRelative: parent.unsafeAllowRelative }
          : { [rule]: parent[rule] };
    out.push({ rule, check: compileConstraint(only) });
  }
  return out;
}

const pathUnder = (inner: string, outer: string): boolean => outer === '/' || inner === outer || inner.startsWith(`${outer}/`);

/** Does a host entry of the child only ever match hosts some entry of the parent matches? */
function hostCovered(child: string, parentHosts: readonly string[]): boolean {
  for (const p of parentHosts) {
    if (child === p) return true;
    if (p.startsWith('*.')) {
      const suffix = p.slice(1);
      // Same rule as the check itself: `*.example.com` matches below example.com, never itself.
      const c = child.startsWith('*.') ? child.slice(1) : child;
      if (c.endsWith(suffix) && c.length > suffix.length) return true;
    }
  }
  return false;
}

/** Proves one rule of the parent from the child's rules (the child allows no finite list). */
function ruleHolds(child: ArgConstraint, parent: ArgConstraint, rule: RuleName, path: string): string | undefined {
  const no = (): string => `${path}: ${describeConstraint(child)} is not within ${describeRule(parent, rule)}`;
  switch (rule) {
    case 'eq':
    case 'in':
      return no();
    case 'startsWith':
      return child.startsWith !== undefined && child.startsWith.startsWith(parent.startsWith!) ? undefined : no();
    case 'endsWith':
      return child.endsWith !== undefined && child.endsWith.endsWith(parent.endsWith!) ? undefined : no();
    case 'min':
      return child.min !== undefined && child.min >= parent.min! ? undefined : no();
    case 'max':
      return child.max !== undefined && child.max <= parent.max! ? undefined : no();
    case 'maxLength':
      return child.maxLength !== undefined && child.maxLength <= parent.maxLength! ? undefined : no();
    case 'pattern':
      // Regular-language inclusion is decidable but costly and easy to get wrong: only the
      // identical pattern is proven.
      return child.pattern === parent.pattern ? undefined : no();
    case 'pathWithin': {
      const inner = child.pathWithin;
      const outer = parent.pathWithin!;
      if (inner === undefined || !pathUnder(inner, outer)) return no();
      // Relative values reach the child only if the child allows them (and does not demand a
      // leading '/' some other way); the parent must then allow them too.
      const childRelative = child.unsafeAllowRelative === true && !child.startsWith?.startsWith('/');
      if (!childRelative) return undefined;
      if (parent.unsafeAllowRelative !== true) {
        return `${path}: ${describeConstraint(child)} is not within ${describeRule(parent, rule)}, which refuses relative paths`;
      }
      // A relative value resolves against each root separately: `sub/x` names /data/x/sub/x
      // under one and /data/sub/x under the other, so only the same root (or '/') is proven.
      if (inner === outer || outer === '/') return undefined;
      return `${path}: ${describeConstraint(child)} is not within ${describeRule(parent, rule)} for relative paths (drop unsafeAllowRelative or keep the parent's root)`;
    }
    case 'hostIn': {
      if (child.hostIn === undefined) return no();
      const allowed = parent.schemes ?? ['https'];
      if (!(child.schemes ?? ['https']).every((s) => allowed.includes(s))) return no();
      return child.hostIn.every((h) => hostCovered(h, parent.hostIn!)) ? undefined : no();
    }
    case 'fields': {
      if (child.fields === undefined) return no();
      for (const [key, pc] of Object.entries(parent.fields!)) {
        const cc = Object.hasOwn(child.fields, key) ? child.fields[key] : undefined;
        const why = constraintWithin(cc, pc, `${path}.${key}`);
        if (why !== undefined) return why;
      }
      return undefined;
    }
    case 'items':
      if (child.items === undefined) return no();
      return constraintWithin(child.items, parent.items!, `${path}[]`);
  }
}

/**
 * Returns undefined when every value `child` accepts (including absence) is accepted by
 * `parent`; otherwise why not, starting with `path`, e.g.
 * `email.send.to: endsWith '@example.com' is not within eq 'ops@example.com'`.
 */
export function constraintWithin(child: ArgConstraint | undefined, parent: ArgConstraint, path: string): string | undefined {
  if (child === undefined) return `${path}: no constraint is not within ${describeConstraint(parent)}`;
  if (child.optional === true && parent.optional !== true) {
    return `${path}: optional is not within a required value (${describeConstraint(parent)})`;
  }
  if (child.eq !== undefined || child.in !== undefined) {
    const candidates = child.eq !== undefined ? [child.eq] : child.in!;
    const own = compileConstraint({ ...child, optional: false });
    const rules = singleRules(parent);
    for (const v of candidates) {
      if (own(v, '') !== undefined) continue; // the child itself refuses this value
      for (const r of rules) {
        if (r.check(v, '') !== undefined) {
          const which = child.eq !== undefined ? '' : ` (${quote(v)} is not)`;
          return `${path}: ${describeConstraint(child)} is not within ${describeRule(parent, r.rule)}${which}`;
        }
      }
    }
    return undefined;
  }
  for (const rule of RULES) {
    if (parent[rule] === undefined) continue;
    const why = ruleHolds(child, parent, rule, path);
    if (why !== undefined) return why;
  }
  return undefined;
}

/**
 * Returns undefined when the child's grant of `tool` is within the parent's; otherwise the
 * rule it breaks, phrased to follow "link N ", e.g. `raises email.send maxCalls from 1 to 5`.
 */
export function toolGrantWithin(child: ToolGrant, parent: ToolGrant, tool: string): string | undefined {
  if (parent.args !== undefined) {
    for (const [arg, pc] of Object.entries(parent.args)) {
      const cc = child.args !== undefined && Object.hasOwn(child.args, arg) ? child.args[arg] : undefined;
      const why = constraintWithin(cc, pc, `${tool}.${arg}`);
      if (why !== undefined) return `widens ${why}`;
    }
  }
  if (parent.maxCalls !== undefined) {
    if (child.maxCalls === undefined) return `drops ${tool} maxCalls (the parent allows ${parent.maxCalls}; set maxCalls to at most that)`;
    if (child.maxCalls > parent.maxCalls) return `raises ${tool} maxCalls from ${parent.maxCalls} to ${child.maxCalls}`;
  }
  if (parent.retrieval !== undefined) return retrievalWithin(child.retrieval, parent.retrieval, tool);
  return undefined;
}

/** A child's retrieval bound: each of the parent's limits kept or lowered, its labels a subset. */
function retrievalWithin(child: RetrievalBound | undefined, parent: RetrievalBound, tool: string): string | undefined {
  const limit = (name: string, c: number | undefined, p: number | undefined): string | undefined => {
    if (p === undefined) return undefined;
    if (c === undefined) return `drops ${tool} ${name} (the parent allows ${p}; set it to at most that)`;
    return c > p ? `raises ${tool} ${name} from ${p} to ${c}` : undefined;
  };
  const why =
    limit('retrieval.maxRecords', child?.maxRecords, parent.maxRecords) ??
    limit('retrieval.maxBytes', child?.maxBytes, parent.maxBytes) ??
    limit('retrieval.perIntent.maxRecords', child?.perIntent?.maxRecords, parent.perIntent?.maxRecords) ??
    limit('retrieval.perIntent.maxBytes', child?.perIntent?.maxBytes, parent.perIntent?.maxBytes);
  if (why !== undefined) return why;
  if (parent.labels !== undefined) {
    if (child?.labels === undefined) return `drops ${tool} retrieval.labels (the parent allows only ${list(parent.labels)})`;
    const allowed = new Set(parent.labels);
    const extra = child.labels.find((l) => !allowed.has(l));
    if (extra !== undefined) return `widens ${tool} retrieval.labels with ${quote(extra)}, which its parent does not allow`;
  }
  return undefined;
}

/** Tools a subset of the parent's, each grant within the parent's; undefined when narrowing holds. */
export function toolsWithin(child: Record<string, ToolGrant>, parent: Record<string, ToolGrant>): string | undefined {
  for (const [tool, grant] of Object.entries(child)) {
    if (!Object.hasOwn(parent, tool)) return `adds tool "${tool}", which its parent does not grant`;
    const why = toolGrantWithin(grant, parent[tool]!, tool);
    if (why !== undefined) return why;
  }
  return undefined;
}
