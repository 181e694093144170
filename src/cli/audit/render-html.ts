/**
 * The audit as one self-contained HTML page: no script, no external resource (a CSP forbids
 * both), every value escaped. A timeline shows each call as a mark coloured by its decision.
 */
import { deniedByText, type AuditCall, type AuditGroup, type AuditSummary } from './summarize.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESC[c]!);

const iso = (ms: number): string => (Number.isFinite(ms) ? new Date(ms).toISOString() : '?');

function groupTable(title: string, groups: readonly AuditGroup[]): string {
  const rows = groups
    .map(
      (g) =>
        `<tr><td>${escapeHtml(g.key)}</td><td class="n allow">${g.allowed}</td><td class="n deny">${g.denied}</td><td class="n">${g.approved}</td><td class="n error">${g.errors}</td><td>${escapeHtml(deniedByText(g) || '-')}</td><td>${escapeHtml([...g.tools].sort().join(', '))}</td></tr>`,
    )
    .join('\n');
  return `<h2>Per ${escapeHtml(title)}</h2>
<table><thead><tr><th>${escapeHtml(title)}</th><th>allowed</th><th>denied</th><th>approved</th><th>tool errors</th><th>denied by code</th><th>tools</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

function label(c: AuditCall): string {
  if (c.decision === 'deny') return `denied: ${c.code ?? 'unknown'}`;
  if (c.decision === 'error') return 'allowed, tool failed';
  return c.approval === 'approved' ? `allowed after approval${c.approver ? ` by ${c.approver}` : ''}` : 'allowed';
}

function timeline(calls: readonly AuditCall[]): string {
  const t0 = calls[0]!.startMs;
  const span = Math.max(1, calls[calls.length - 1]!.startMs - t0);
  const lanes = [...new Set(calls.map((c) => `${c.agent} · ${c.intent}`))];
  const rows = lanes
    .map((lane) => {
      const marks = calls
        .filter((c) => `${c.agent} · ${c.intent}` === lane)
        .map((c) => {
          const left = (((c.startMs - t0) / span) * 100).toFixed(2);
          const title = `${iso(c.startMs)} ${c.tool}: ${label(c)}${c.reason ? ` (${c.reason})` : ''}`;
          return `<span class="mark ${c.decision}" style="left:${left}%" title="${escapeHtml(title)}"></span>`;
        })
        .join('');
      return `<div class="lane"><div class="lane-name">${escapeHtml(lane)}</div><div class="track">${marks}</div></div>`;
    })
    .join('\n');
  return `<h2>Timeline</h2>
<p class="legend"><span class="mark allow"></span> allowed <span class="mark deny"></span> denied <span class="mark error"></span> tool failed &nbsp; ${escapeHtml(iso(t0))} to ${escapeHtml(iso(t0 + span))}</p>
<div class="timeline">
${rows}
</div>`;
}

function callTable(calls: readonly AuditCall[]): string {
  const rows = calls
    .map(
      (c) =>
        `<tr class="${c.decision}"><td>${escapeHtml(iso(c.startMs))}</td><td>${escapeHtml(c.agent)}</td><td>${escapeHtml(c.intent)}</td><td>${escapeHtml(c.tool)}</td><td>${escapeHtml(label(c))}</td><td>${escapeHtml(c.reason ?? '')}</td><td>${escapeHtml(c.sideEffects.join(', '))}</td></tr>`,
    )
    .join('\n');
  return `<h2>Calls</h2>
<table><thead><tr><th>time (UTC)</th><th>agent</th><th>intent</th><th>tool</th><th>decision</th><th>reason</th><th>side effects</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

export function renderAuditHtml(s: AuditSummary, title = 'Tessera audit'): string {
  const t = s.totals;
  const body =
    s.calls.length === 0
      ? '<p>No guarded tool calls found.</p>'
      : `<p class="totals">${s.calls.length} guarded calls: <b class="allow">${t.allowed} allowed</b> (${t.approved} after approval), <b class="deny">${t.denied} denied</b>, <b class="error">${t.errors} tool errors</b></p>
${timeline(s.calls)}
${groupTable('intent', s.byIntent)}
${groupTable('agent', s.byAgent)}
${callTable(s.calls)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1d2330}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e3e6ec;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.allow{color:#1a7f37}.deny{color:#c62828}.error{color:#9a6700}
tr.deny td{background:#fff5f5}tr.error td{background:#fffbea}
.timeline{border:1px solid #e3e6ec;padding:.5rem}
.lane{display:flex;align-items:center;height:1.6rem}.lane-name{width:28ch;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:12px}
.track{position:relative;flex:1;height:1rem;background:#f4f6f9}
.mark{display:inline-block;width:8px;height:1rem;border-radius:2px;background:#1a7f37}
.track .mark{position:absolute;top:0;margin-left:-4px}
.mark.deny{background:#c62828}.mark.error{background:#9a6700}
.legend .mark{vertical-align:middle;margin:0 .2rem 0 .8rem}
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}
