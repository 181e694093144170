/**
 * `expectLeastPrivilege(grant, spans, { slack })`: fails a suite when a grant allows more than
 * its scenario used (tools never called, argument ranges never reached, budgets above use),
 * with a diff from the grant to the tighter one the evidence supports.
 */
import { decodeJwt } from 'jose';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createAdvisor, type GrantSpec, type GroupAdvice } from '../advise/advisor.js';
import { parseGrantSpec } from '../advise/grant-spec.js';
import { observeReadableSpan } from '../advise/observed-call.js';
import { overGrant } from '../advise/render.js';
import type { ToolGrant } from '../capability/claims.js';
import { toolsWithin } from '../capability/subsumption.js';
import { spansOf, type SpanSource } from './expect-span.js';

/** How much headroom above use `expectLeastPrivilege` accepts. */
export interface LeastPrivilegeOptions {
  /**
   * Headroom allowed above use, as a fraction: with 0.5, `maxCalls`, retrieval bounds and number
   * ranges may reach 1.5x what the scenario used. Default 0: exactly what was used.
   */
  slack?: number;
}

/** A grant as `authority.grant()` takes it (or the test authority's `grant`), or a capability token. */
export type LeastPrivilegeGrant = string | { agent?: string; intent?: { id: string; purpose: string }; tools: Record<string, ToolGrant>; [key: string]: unknown };

/** What `checkLeastPrivilege` found. */
export interface LeastPrivilegeResult {
  /** True when the grant allows no more than the calls used. */
  readonly pass: boolean;
  /** What the grant allows beyond use, one line each. */
  readonly findings: readonly string[];
  /** The tighter grant's tools (the grant itself when it passes). */
  readonly tighter: Record<string, ToolGrant>;
  /** The findings and the diff, as the thrown error says them. */
  readonly message: string;
}

function grantSpecOf(grant: LeastPrivilegeGrant): GrantSpec {
  if (typeof grant === 'string') {
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(grant);
    } catch {
      throw new TypeError('expectLeastPrivilege: the grant is a string but not a capability token');
    }
    return parseGrantSpec({ agent: claims.sub, intent: claims.intent, tools: claims.tools }, 'expectLeastPrivilege grant');
  }
  const { agent, intent, tools, ttl } = grant;
  return parseGrantSpec({ agent, intent, tools, ...(ttl === undefined ? {} : { ttl }) }, 'expectLeastPrivilege grant');
}

/** The grant's JSON lines against the tighter grant's, marked `-` (only in the grant) and `+`. */
export function lineDiff(before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out.join('\n');
}

/** What `expectLeastPrivilege` decides, without throwing. */
export function checkLeastPrivilege(grant: LeastPrivilegeGrant, source: SpanSource, options: LeastPrivilegeOptions = {}): LeastPrivilegeResult {
  const slack = options.slack ?? 0;
  if (typeof slack !== 'number' || !(slack >= 0 && slack <= 100)) throw new RangeError('expectLeastPrivilege: slack must be a number from 0 to 100');
  const spec = grantSpecOf(grant);
  const spans: readonly ReadableSpan[] = spansOf(source);
  const advisor = createAdvisor({ grants: [spec], margin: slack, numberMargin: slack });
  let withoutEvidence = 0;
  for (const s of spans) {
    const call = observeReadableSpan(s);
    if (call === undefined || (spec.agent !== undefined && call.agent !== spec.agent)) continue;
    if (call.decision !== 'deny' && call.evidence === undefined) withoutEvidence++;
    if (spec.intent !== undefined && call.evidence !== undefined && call.evidence.purpose !== spec.intent.purpose) continue;
    advisor.add(call);
  }
  if (withoutEvidence > 0) {
    throw new TypeError(
      `expectLeastPrivilege: ${withoutEvidence} allowed call(s) carry no evidence, so their arguments cannot be judged; create the guard with telemetry: { evidence: true }`,
    );
  }
  const group: GroupAdvice | undefined = createGroup(advisor.finish().groups, spec);
  const tighter = group?.grant?.tools ?? {};
  const findings: string[] = [];
  if (group === undefined || group.grant === undefined) {
    findings.push(`no allowed call used this grant: every tool is unused (${Object.keys(spec.tools).sort().join(', ')})`);
  } else {
    findings.push(...overGrant(group).filter((line) => !line.startsWith('ttl ')));
    const wider = toolsWithin(spec.tools, tighter);
    if (wider !== undefined && findings.length === 0) findings.push(`the grant ${wider}`);
    for (const t of group.tools) {
      const granted = t.retrieval?.granted;
      const advised = t.retrieval?.advised;
      if (advised === undefined) continue;
      const above = (g: number | undefined, a: number | undefined): boolean => a !== undefined && (g === undefined || g > a);
      if (
        (above(granted?.maxRecords, advised.maxRecords) || above(granted?.maxBytes, advised.maxBytes) || above(granted?.perIntent?.maxRecords, advised.perIntent?.maxRecords) || above(granted?.perIntent?.maxBytes, advised.perIntent?.maxBytes)) &&
        !findings.some((f) => f.startsWith(`tool ${t.tool}: retrieval`))
      ) {
        findings.push(`tool ${t.tool}: retrieval bounds above use`);
      }
    }
  }
  const pass = findings.length === 0;
  const diff = lineDiff(JSON.stringify(spec.tools, null, 2), JSON.stringify(tighter, null, 2));
  const message = pass
    ? 'the grant allows no more than its scenario used'
    : `the grant allows more than its scenario used${slack > 0 ? ` (slack ${slack})` : ''}:\n${findings.map((f) => `  - ${f}`).join('\n')}\nTighter grant (- granted, + advised):\n${diff}`;
  return { pass, findings, tighter: pass ? spec.tools : tighter, message };
}

function createGroup(groups: readonly GroupAdvice[], spec: GrantSpec): GroupAdvice | undefined {
  return groups.find((g) => g.granted === spec) ?? groups.find((g) => g.grant !== undefined);
}

/** Throws, with the findings and a diff to the tighter grant, when the grant allows more than the spans used. */
export function expectLeastPrivilege(grant: LeastPrivilegeGrant, spans: SpanSource, options: LeastPrivilegeOptions = {}): void {
  const r = checkLeastPrivilege(grant, spans, options);
  if (!r.pass) throw new Error(`expectLeastPrivilege: ${r.message}`);
}
