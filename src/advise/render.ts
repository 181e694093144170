/** The advice in words (text report) and as data (JSON report). */
import type { Advice, GroupAdvice, ToolUse } from './advisor.js';
import { describeArg } from './advisor.js';
import { canonicalJson } from '../util/canonical.js';

/** Same rules, whatever the order their keys were written in. */
const same = (a: unknown, b: unknown): boolean => (a === undefined || b === undefined ? a === b : canonicalJson(a) === canonicalJson(b));

const seconds = (s: number | undefined): string => (s === undefined ? '-' : s >= 120 ? `${(s / 60).toFixed(s % 60 === 0 ? 0 : 1)} min` : `${s} s`);
const ms = (n: number): string => seconds(Math.ceil(n / 1000));

/** Findings of the over-grant report for one group, one line each. */
export function overGrant(g: GroupAdvice): string[] {
  const lines: string[] = [];
  if (g.granted === undefined) return lines;
  for (const t of g.unusedTools) lines.push(`tool ${t}: granted, never called`);
  for (const t of g.tools) {
    if (t.grantedMaxCalls !== undefined && t.advisedMaxCalls !== undefined && t.grantedMaxCalls > t.advisedMaxCalls) {
      lines.push(`tool ${t.tool}: maxCalls ${t.grantedMaxCalls} granted, at most ${t.maxCallsPerIntent} used in one intent (advised ${t.advisedMaxCalls})`);
    }
    if (t.grantedMaxCalls === undefined) lines.push(`tool ${t.tool}: no maxCalls granted, at most ${t.maxCallsPerIntent} used in one intent (advised ${t.advisedMaxCalls ?? '-'})`);
    for (const a of t.args) {
      if (same(a.granted, a.advised)) continue;
      lines.push(`tool ${t.tool}, argument ${a.arg}: granted ${describeArg(a.granted)}; used ${a.used}; advised ${describeArg(a.advised)}`);
    }
    const r = t.retrieval;
    if (r !== undefined && !same(r.granted, r.advised)) {
      lines.push(`tool ${t.tool}: retrieval granted ${r.granted === undefined ? 'unbounded' : JSON.stringify(r.granted)}; advised ${JSON.stringify(r.advised)}`);
    }
  }
  if (g.grantedTtlSec !== undefined && g.advisedTtlSec !== undefined && g.grantedTtlSec > g.advisedTtlSec) {
    lines.push(`ttl ${seconds(g.grantedTtlSec)} granted, longest task ${ms(g.longestTaskMs)} (advised ${seconds(g.advisedTtlSec)})`);
  }
  for (const t of g.outsideGrant) lines.push(`tool ${t}: called and allowed, but not in the grant given: left out of the advice`);
  return lines;
}

function toolLine(t: ToolUse): string {
  const parts = [`${t.calls} allowed call(s), at most ${t.maxCallsPerIntent} in one intent`];
  if (t.withoutEvidence > 0) parts.push(`${t.withoutEvidence} without evidence (arguments left as granted)`);
  const r = t.retrieval;
  if (r !== undefined && r.calls > 0) {
    parts.push(
      `retrieved ${r.records} record(s), ${r.bytes} byte(s) in ${r.calls} call(s); per call at most ${r.maxRecordsPerCall} records, ${r.maxBytesPerCall} bytes; per intent at most ${r.maxRecordsPerIntent} records, ${r.maxBytesPerIntent} bytes${r.labels.length > 0 ? `; labels ${r.labels.join(', ')}` : ''}`,
    );
  }
  return `  ${t.tool}: ${parts.join('; ')}`;
}

export function renderAdviceText(a: Advice): string {
  if (a.groups.length === 0) return `No guarded tool calls found.\n`;
  const out: string[] = [`${a.calls} guarded call(s) read.${a.malformedEvidence > 0 ? ` ${a.malformedEvidence} carried evidence in a form this version cannot read.` : ''}`];
  for (const g of a.groups) {
    out.push('');
    out.push(`Agent ${g.agent}, purpose ${g.purpose === undefined ? '(unknown: no evidence recorded)' : JSON.stringify(g.purpose)}`);
    const would = Object.entries(g.wouldDeny);
    out.push(
      `  ${g.intents} intent(s), ${g.allowed} allowed, ${g.denied} denied${would.length > 0 ? `, ${would.reduce((n, [, c]) => n + c, 0)} would have been denied in enforce mode (${would.map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}; longest task ${ms(g.longestTaskMs)}`,
    );
    if (g.granted === undefined) out.push('  No grant given for these calls (--grant): the advice is from the evidence alone.');
    out.push('Tools used');
    for (const t of g.tools) out.push(toolLine(t));
    const findings = overGrant(g);
    if (g.granted !== undefined) {
      out.push('Over-grant');
      out.push(...(findings.length === 0 ? ['  none: the grant is as tight as the evidence can tell'] : findings.map((f) => `  ${f}`)));
    }
    out.push('Advised grant');
    out.push(g.grant === undefined ? '  none: no call was allowed' : JSON.stringify(g.grant, null, 2).replace(/^/gm, '  '));
  }
  return `${out.join('\n')}\n`;
}

export function adviceJson(a: Advice): unknown {
  return {
    calls: a.calls,
    withEvidence: a.withEvidence,
    malformedEvidence: a.malformedEvidence,
    groups: a.groups.map((g) => ({ ...g, overGrant: overGrant(g) })),
  };
}
