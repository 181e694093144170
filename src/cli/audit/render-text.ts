import { deniedByText, type AuditGroup, type AuditSummary } from './summarize.js';

function groupTable(title: string, groups: readonly AuditGroup[]): string {
  const head = [title, 'allowed', 'denied', 'approved', 'tool errors', 'denied by code'];
  const rows = groups.map((g) => [g.key, String(g.allowed), String(g.denied), String(g.approved), String(g.errors), deniedByText(g) || '-']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function renderAuditText(s: AuditSummary): string {
  if (s.calls.length === 0) return `No guarded tool calls found${s.ignoredSpans > 0 ? ` (${s.ignoredSpans} other spans ignored)` : ''}.\n`;
  const first = new Date(s.calls[0]!.startMs).toISOString();
  const last = new Date(s.calls[s.calls.length - 1]!.startMs).toISOString();
  const t = s.totals;
  return [
    `${s.calls.length} guarded call(s) from ${first} to ${last}: ${t.allowed} allowed (${t.approved} after approval), ${t.denied} denied, ${t.errors} tool error(s)`,
    '',
    'Per intent',
    groupTable('intent', s.byIntent),
    '',
    'Per agent',
    groupTable('agent', s.byAgent),
    '',
  ].join('\n');
}
