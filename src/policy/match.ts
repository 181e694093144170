/**
 * Matchers compiled once from rule data: globs over ids and tool names, identity matchers over
 * SPIFFE IDs and OIDC claims, and time windows.
 */
import type { AgentIdentity } from '../identity/types.js';
import type { IdentityMatcher, TimeWindow, Weekday } from './rules-schema.js';
import { WEEKDAYS } from './rules-schema.js';
import { compileInternalPattern, quotePattern } from '../capability/pattern.js';

/**
 * `*` matches within one `/`-separated segment, `**` across segments; everything else is literal.
 *
 * The values are agent ids, tool names and intent ids, which an agent can influence, so a glob
 * never becomes a backtracking regular expression: the shapes rules use (one wildcard) are
 * plain string tests, and anything else runs on the linear-time pattern engine.
 */
export function compileGlob(pattern: string): (value: string) => boolean {
  if (!pattern.includes('*')) return (v) => v === pattern;
  const parts = pattern.split('**').map((part) => part.split('*'));
  const wildcards = parts.reduce((n, p) => n + p.length - 1, parts.length - 1);
  if (wildcards === 1) {
    const deep = parts.length === 2;
    const pre = parts[0]![0]!;
    const suf = deep ? parts[1]![0]! : parts[0]![1]!;
    const min = pre.length + suf.length;
    return (v) =>
      v.length >= min &&
      v.startsWith(pre) &&
      v.endsWith(suf) &&
      (deep || !v.slice(pre.length, v.length - suf.length).includes('/'));
  }
  const source = parts.map((part) => part.map(quotePattern).join('[^/]*')).join('(?s:.*)');
  return compileInternalPattern(source);
}

export function compileGlobs(patterns: readonly string[]): (value: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.includes('*')));
  const wild = patterns.filter((p) => p.includes('*')).map(compileGlob);
  return (v) => exact.has(v) || wild.some((m) => m(v));
}

type Scalar = string | number | boolean;

/** A claim matches when it equals one of the wanted values, or, as a list, includes one. */
function claimMatches(actual: unknown, wanted: Scalar | readonly Scalar[]): boolean {
  const want: readonly Scalar[] = Array.isArray(wanted) ? wanted : [wanted as Scalar];
  if (Array.isArray(actual)) return actual.some((a) => want.includes(a as Scalar));
  return want.includes(actual as Scalar);
}

export function compileIdentityMatcher(m: IdentityMatcher): (agent: AgentIdentity) => boolean {
  const spiffe = m.spiffe === undefined ? undefined : compileGlob(m.spiffe);
  const claims = m.claims === undefined ? [] : Object.entries(m.claims);
  const issuer = m.issuer;
  return (agent) => {
    if (spiffe !== undefined && !spiffe(agent.id)) return false;
    if (issuer !== undefined && agent.issuer !== issuer && agent.trustDomain !== issuer) return false;
    if (claims.length > 0) {
      const attrs = agent.attributes;
      if (attrs === undefined) return false;
      for (const [k, want] of claims) {
        if (!Object.hasOwn(attrs, k) || !claimMatches(attrs[k], want)) return false;
      }
    }
    return true;
  };
}

export function matchesScalar(actual: unknown, wanted: Scalar | readonly Scalar[]): boolean {
  return claimMatches(actual, wanted);
}

const DAY_INDEX: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(WEEKDAYS.map((d, i) => [d, i])) as Record<Weekday, number>,
);

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Compiles a window to a test over ms since epoch; UTC unless a time zone is named. */
export function compileTimeWindow(w: TimeWindow): (timeMs: number) => boolean {
  const days = w.days === undefined ? undefined : new Set(w.days.map((d) => DAY_INDEX[d]!));
  const from = w.hours === undefined ? 0 : minutes(w.hours.from);
  const to = w.hours === undefined ? 0 : minutes(w.hours.to);
  const hasHours = w.hours !== undefined;
  const local = w.timeZone === undefined || w.timeZone === 'UTC' ? undefined : zonedParts(w.timeZone);
  return (timeMs) => {
    let day: number;
    let minute: number;
    if (local === undefined) {
      const d = new Date(timeMs);
      day = d.getUTCDay();
      minute = d.getUTCHours() * 60 + d.getUTCMinutes();
    } else {
      ({ day, minute } = local(timeMs));
    }
    if (days !== undefined && !days.has(day)) return false;
    if (!hasHours) return true;
    return from <= to ? minute >= from && minute < to : minute >= from || minute < to;
  };
}

function zonedParts(timeZone: string): (timeMs: number) => { day: number; minute: number } {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return (timeMs) => {
    let day = 0;
    let hour = 0;
    let minute = 0;
    for (const p of fmt.formatToParts(timeMs)) {
      if (p.type === 'weekday') day = DAY_INDEX[p.value.slice(0, 3).toLowerCase()] ?? 0;
      else if (p.type === 'hour') hour = Number(p.value);
      else if (p.type === 'minute') minute = Number(p.value);
    }
    return { day, minute: hour * 60 + minute };
  };
}
