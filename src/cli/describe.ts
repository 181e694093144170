/**
 * Capabilities in plain words for people who inspect them: constraints as sentences, expiry as
 * a countdown.
 */
import type { ArgConstraint } from '../capability/constraints.js';
import type { ToolGrant } from '../capability/claims.js';

const q = (v: unknown): string => JSON.stringify(v);

function rules(c: ArgConstraint): string[] {
  const out: string[] = [];
  if (c.eq !== undefined) out.push(`must equal ${q(c.eq)}`);
  if (c.in !== undefined) out.push(`must be one of ${c.in.map(q).join(', ')}`);
  if (c.startsWith !== undefined) out.push(`must start with ${q(c.startsWith)}`);
  if (c.endsWith !== undefined) out.push(`must end with ${q(c.endsWith)}`);
  if (c.min !== undefined && c.max !== undefined) out.push(`must be between ${c.min} and ${c.max}`);
  else if (c.min !== undefined) out.push(`must be at least ${c.min}`);
  else if (c.max !== undefined) out.push(`must be at most ${c.max}`);
  if (c.maxLength !== undefined) out.push(`must be at most ${c.maxLength} long`);
  if (c.pattern !== undefined) out.push(`must match /${c.pattern}/ in full`);
  if (c.pathWithin !== undefined) out.push(`must be a path inside ${c.pathWithin}`);
  if (c.hostIn !== undefined) out.push(`must be a ${(c.schemes ?? ['https']).join(' or ')} URL on ${c.hostIn.join(', ')}`);
  return out;
}

/** One line per constrained argument, e.g. `to must end with "@example.com"`. */
export function describeConstraint(path: string, c: ArgConstraint): string[] {
  const lines: string[] = [];
  const own = rules(c);
  const optional = c.optional === true ? ' (if given)' : '';
  if (own.length > 0) lines.push(`${path}${optional} ${own.join(' and ')}`);
  if (c.items !== undefined) lines.push(...describeConstraint(`each item of ${path}`, c.items));
  if (c.fields !== undefined) for (const [k, f] of Object.entries(c.fields)) lines.push(...describeConstraint(`${path}.${k}`, f));
  return lines;
}

export function describeGrant(grant: ToolGrant): string[] {
  const lines: string[] = [];
  const args = Object.entries(grant.args ?? {});
  if (args.length === 0) lines.push('any arguments the tool accepts');
  for (const [name, c] of args) lines.push(...describeConstraint(name, c));
  lines.push(grant.maxCalls === undefined ? 'no call limit' : `at most ${grant.maxCalls} call${grant.maxCalls === 1 ? '' : 's'}`);
  return lines;
}

/** `in 4m 30s`, `expired 2h 5m ago`. */
export function countdown(untilMs: number, nowMs: number): string {
  const diff = Math.round((untilMs - nowMs) / 1000);
  const abs = Math.abs(diff);
  const d = Math.floor(abs / 86400);
  const h = Math.floor((abs % 86400) / 3600);
  const m = Math.floor((abs % 3600) / 60);
  const s = abs % 60;
  const parts = d > 0 ? [`${d}d`, `${h}h`] : h > 0 ? [`${h}h`, `${m}m`] : m > 0 ? [`${m}m`, `${s}s`] : [`${s}s`];
  const span = parts.filter((p, i) => i === 0 || !p.startsWith('0')).join(' ');
  return diff >= 0 ? `in ${span}` : `expired ${span} ago`;
}
