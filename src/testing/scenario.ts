/**
 * The scenario runner: "this capability allows these calls and denies those", in order, through
 * the real guard. When any case does not match, it throws with a table of expected versus actual
 * for every case, so a CI log shows the whole picture rather than the first failure only.
 */
import type { CapabilityBinding, Guard, GuardedTool } from '../guard/types.js';
import type { DenialCode } from '../errors.js';
import { settleCall, type CallOutcome } from './matchers.js';
import { guardTool } from '../guard/guard-tool.js';

export interface ScenarioCase {
  readonly tool: string;
  readonly args: unknown;
  /** `allow`, or the denial code the guard must answer with. */
  readonly expect: 'allow' | DenialCode;
  /** A label for the table; default the tool name. */
  readonly label?: string;
}

export interface Scenario {
  /** Shown in the failure message. */
  readonly name?: string;
  /** The capability every case runs under. */
  readonly capability: CapabilityBinding;
  /** Guarded tools the cases name. They share one guard. */
  readonly tools: readonly GuardedTool[];
  /**
   * The cases, run in this order. Order matters: calls count against `maxCalls` as they would in
   * production, so "the second email is denied" is a case like any other.
   */
  readonly cases?: readonly ScenarioCase[];
  /** Shorthand, run before `denies`: calls that must be allowed. */
  readonly allows?: readonly { tool: string; args: unknown; label?: string }[];
  /** Shorthand, run after `allows`: calls that must be denied with their code. */
  readonly denies?: readonly { tool: string; args: unknown; code: DenialCode; label?: string }[];
  /**
   * Run the guard but not the tools' bodies (a no-op stands in for each). Default false: the
   * real tools run when allowed, which is what a test of their side effects wants.
   */
  readonly dryRun?: boolean;
}

export interface ScenarioRow {
  readonly index: number;
  readonly label: string;
  readonly args: string;
  readonly expected: string;
  readonly actual: string;
  readonly ok: boolean;
  /** The denial's reason or the thrown error, for rows that did not match. */
  readonly detail: string | undefined;
}

export interface ScenarioResult {
  readonly rows: readonly ScenarioRow[];
  readonly passed: boolean;
  /** The table as printed on failure. */
  readonly table: string;
}

export class ScenarioMismatchError extends Error {
  readonly result: ScenarioResult;
  constructor(message: string, result: ScenarioResult) {
    super(message);
    this.name = 'ScenarioMismatchError';
    this.result = result;
  }
}

/** A case that must be allowed. */
export const allow = (tool: string, args: unknown, label?: string): ScenarioCase =>
  label === undefined ? { tool, args, expect: 'allow' } : { tool, args, expect: 'allow', label };

/** A case that must be denied with `code`. */
export const deny = (tool: string, args: unknown, code: DenialCode, label?: string): ScenarioCase =>
  label === undefined ? { tool, args, expect: code } : { tool, args, expect: code, label };

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function showArgs(args: unknown): string {
  try {
    return clip(JSON.stringify(args) ?? String(args), 48);
  } catch {
    return '(not JSON)';
  }
}

function actualOf(o: CallOutcome): string {
  if (o.kind === 'allowed') return 'allow';
  if (o.kind === 'denied') return o.code;
  return `allow, tool threw ${o.error instanceof Error ? o.error.name : 'a non-error'}`;
}

function detailOf(o: CallOutcome): string | undefined {
  if (o.kind === 'denied') return o.reason;
  if (o.kind === 'failed') return o.error instanceof Error ? o.error.message : String(o.error);
  return undefined;
}

export function renderScenarioTable(rows: readonly ScenarioRow[]): string {
  const head = ['#', 'call', 'args', 'expected', 'actual', ''];
  const body = rows.map((r) => [String(r.index), r.label, r.args, r.expected, r.actual, r.ok ? 'ok' : 'MISMATCH']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function collectCases(s: Scenario): ScenarioCase[] {
  const cases: ScenarioCase[] = [...(s.cases ?? [])];
  for (const a of s.allows ?? []) cases.push(allow(a.tool, a.args, a.label));
  for (const d of s.denies ?? []) cases.push(deny(d.tool, d.args, d.code, d.label));
  if (cases.length === 0) throw new TypeError('runScenario needs at least one case (cases, allows or denies)');
  return cases;
}

function toolTable(s: Scenario): Map<string, GuardedTool> {
  if (!Array.isArray(s.tools) || s.tools.length === 0) throw new TypeError('runScenario needs the guarded tools the cases call');
  const guard: Guard = s.tools[0]!.guard;
  const byName = new Map<string, GuardedTool>();
  for (const t of s.tools) {
    if (t.guard !== guard) throw new TypeError('runScenario: every tool must belong to the same guard');
    const tool = s.dryRun === true ? guardTool(guard, t.definition, () => undefined) : t;
    byName.set(t.definition.name, tool);
  }
  return byName;
}

/** Runs every case in order and throws `ScenarioMismatchError` (with the table) if any differs. */
export async function runScenario(s: Scenario): Promise<ScenarioResult> {
  const cases = collectCases(s);
  const tools = toolTable(s);
  for (const c of cases) {
    if (!tools.has(c.tool)) throw new TypeError(`runScenario: no guarded tool named "${c.tool}"; given: ${[...tools.keys()].join(', ')}`);
  }
  const rows: ScenarioRow[] = [];
  for (const [i, c] of cases.entries()) {
    const tool = tools.get(c.tool)!;
    let outcome = await settleCall(() => tool(c.args as never, { capability: s.capability }));
    // A denial of another tool was thrown by this tool's body: this call was allowed and ran.
    if (outcome.kind === 'denied' && outcome.tool !== c.tool) {
      outcome = { kind: 'failed', error: new Error(`the tool ran and threw a denial of "${outcome.tool}" (${outcome.code}): ${outcome.reason}`) };
    }
    const actual = actualOf(outcome);
    const ok = actual === c.expect;
    rows.push({
      index: i + 1,
      label: c.label ?? c.tool,
      args: showArgs(c.args),
      expected: c.expect,
      actual,
      ok,
      detail: ok ? undefined : detailOf(outcome),
    });
  }
  const table = renderScenarioTable(rows);
  const passed = rows.every((r) => r.ok);
  const result: ScenarioResult = { rows, passed, table };
  if (!passed) {
    const bad = rows.filter((r) => !r.ok);
    const details = bad
      .filter((r) => r.detail !== undefined)
      .map((r) => `  #${r.index}: ${r.detail}`)
      .join('\n');
    const title = `scenario${s.name ? ` "${s.name}"` : ''}: ${bad.length} of ${rows.length} case(s) did not match`;
    throw new ScenarioMismatchError(`${title}\n\n${table}${details ? `\n\nwhy:\n${details}` : ''}`, result);
  }
  return result;
}
