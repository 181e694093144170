/**
 * From a folded argument to the narrowest constraint the grammar can say that still accepts every
 * value seen, intersected with the constraint the calls were granted under: a rule is only ever
 * replaced by one the subsumption check proves narrower, so the advice is never wider than the
 * grant.
 */
import { argConstraintSchema, type ArgConstraint } from '../capability/constraints.js';
import { constraintWithin } from '../capability/subsumption.js';
import type { ArgFold } from './arg-fold.js';

export interface DeriveOptions {
  /**
   * Widening of derived number ranges, as a fraction of the larger bound's magnitude; default 0
   * (exactly the range seen).
   */
  readonly numberMargin: number;
}

const valid = (c: ArgConstraint): boolean => argConstraintSchema.safeParse(c).success;

/** What the evidence alone says, before the grant is taken into account. */
function fromEvidence(fold: ArgFold, options: DeriveOptions): ArgConstraint {
  const out: ArgConstraint = {};
  if (fold.kinds.size !== 1) return out;
  const [kind] = fold.kinds;
  switch (kind) {
    case 'url': {
      if (fold.hosts.overflow || fold.schemes.overflow) break;
      const hosts = [...fold.hosts.values].sort();
      const schemes = [...fold.schemes.values].sort();
      const c: ArgConstraint = { hostIn: hosts, ...(schemes.length === 1 && schemes[0] === 'https' ? {} : { schemes }) };
      if (valid(c)) Object.assign(out, c);
      break;
    }
    case 'path':
      if (!fold.relative && fold.dir !== undefined && valid({ pathWithin: fold.dir })) out.pathWithin = fold.dir;
      break;
    case 'email':
      if (!fold.domains.overflow && fold.domains.values.size === 1) {
        const [domain] = fold.domains.values;
        out.endsWith = `@${domain!}`;
      }
      break;
    case 'number': {
      const spread = options.numberMargin * Math.max(Math.abs(fold.minNumber), Math.abs(fold.maxNumber));
      out.min = fold.minNumber - spread;
      out.max = fold.maxNumber + spread;
      break;
    }
    case 'boolean':
      if (fold.booleans.size === 1) out.eq = [...fold.booleans][0]!;
      break;
    case 'array':
      if (fold.arraysWhole && fold.items !== undefined && fold.items.present > 0) {
        const items = fromEvidence(fold.items, options);
        if (Object.keys(items).length > 0 && valid(items)) out.items = items;
      }
      break;
    default:
      break;
  }
  return out;
}

type Rule = keyof ArgConstraint;

/** The rules that travel together (a host list with its schemes, a root with its relative flag). */
const GROUPS: readonly (readonly Rule[])[] = [['hostIn', 'schemes'], ['pathWithin', 'unsafeAllowRelative'], ['min'], ['max'], ['endsWith'], ['eq'], ['in'], ['items']];

function pick(c: ArgConstraint, rules: readonly Rule[]): ArgConstraint {
  const out: ArgConstraint = {};
  for (const r of rules) if (c[r] !== undefined) (out as Record<string, unknown>)[r] = c[r];
  return out;
}

/**
 * The advised constraint: the granted one with each rule replaced by the derived rule when that
 * is provably narrower, plus every derived rule the grant lacks. Undefined when neither says
 * anything.
 */
export function deriveConstraint(
  fold: ArgFold,
  granted: ArgConstraint | undefined,
  absentInSomeCall: boolean,
  options: DeriveOptions,
): ArgConstraint | undefined {
  const derived = fromEvidence(fold, options);
  // The granted finite set, narrowed to the values the calls used.
  if (granted !== undefined && (granted.in !== undefined || granted.eq !== undefined) && !fold.unmatched && fold.usedGranted.size > 0) {
    const values = granted.in ?? [granted.eq!];
    const used = values.filter((_, i) => fold.usedGranted.has(i));
    if (used.length === 1) derived.eq = used[0]!;
    else derived.in = used;
  }
  const out: ArgConstraint = granted === undefined ? {} : structuredClone(granted);
  for (const group of GROUPS) {
    const mine = pick(derived, group);
    if (Object.keys(mine).length === 0) continue;
    const theirs = pick(out, group);
    if (Object.keys(theirs).length === 0) {
      Object.assign(out, mine);
      continue;
    }
    if (group[0] === 'min') out.min = Math.max(out.min!, derived.min!);
    else if (group[0] === 'max') out.max = Math.min(out.max!, derived.max!);
    else if (group[0] === 'in' && mine.in !== undefined) {
      out.in = mine.in;
    } else if (constraintWithin(mine, theirs, '') === undefined && constraintWithin(theirs, mine, '') !== undefined) {
      for (const r of group) delete (out as Record<string, unknown>)[r];
      Object.assign(out, mine);
    }
  }
  // An eq narrowed from a granted `in` replaces the list.
  if (derived.eq !== undefined && out.in !== undefined && granted?.in !== undefined && granted.eq === undefined) {
    if (constraintWithin({ eq: derived.eq }, { in: granted.in }, '') === undefined) delete out.in;
  }
  const optional = absentInSomeCall && (granted === undefined || granted.optional === true);
  if (optional) out.optional = true;
  else delete out.optional;
  if (Object.keys(out).every((k) => k === 'optional' || k === 'unsafeAllowRelative')) return granted;
  // The grammar accepts what it accepts: anything it would refuse falls back to the grant.
  return valid(out) ? out : granted;
}
