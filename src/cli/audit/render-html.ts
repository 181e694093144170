/**
 * The audit as one self-contained HTML page: no script, no external resource (a CSP forbids
 * both), every value escaped. A timeline shows each call as a mark coloured by its decision.
 */
import type { Advice, GroupAdvice } from '../../advise/advisor.js';
import { overGrant } from '../../advise/render.js';
import { deniedByText, type AuditCall, type AuditGroup, type AuditSummary } from './summarize.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESC[c]!);

const iso = (ms: number): string => (Number.isFinite(ms) ? new Date(ms).toISOString() : '?');

function groupTable(title: string, groups: readonly AuditGroup[]): string {
  const rows = groups
    .map(
      (g) =>
        `<tr><td class="id">${escapeHtml(g.key)}</td><td class="n allow">${g.allowed}</td><td class="n deny">${g.denied}</td><td class="n">${g.approved}</td><td class="n error">${g.errors}</td><td>${escapeHtml(deniedByText(g) || '-')}</td><td>${escapeHtml([...g.tools].sort().join(', '))}</td></tr>`,
    )
    .join('\n');
  return `<h2>Per ${escapeHtml(title)}</h2>
<table><thead><tr><th>${escapeHtml(title)}</th><th>allowed</th><th>denied</th><th>approved</th><th>tool errors</th><th>denied by code</th><th>tools</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

function waited(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function label(c: AuditCall): string {
  if (c.decision === 'deny') return `denied: ${c.code ?? 'unknown'}`;
  if (c.decision === 'error') return `allowed, tool failed: ${c.errorType ?? 'unknown error'}`;
  if (c.approval !== 'approved') return 'allowed';
  const wait = c.approvalWaitMs === undefined ? '' : ` (waited ${waited(c.approvalWaitMs)})`;
  return `allowed after approval${c.approver ? ` by ${c.approver}` : ''}${wait}`;
}

const markClass = (c: AuditCall): string => `mark ${c.decision}${c.delegationChain.length > 0 || c.delegationDepth > 0 ? ' delegated' : ''}`;

function timeline(calls: readonly AuditCall[]): string {
  const t0 = calls[0]!.startMs;
  const span = Math.max(1, calls[calls.length - 1]!.startMs - t0);
  // Keyed by a Map: agent ids and intents come from the spans, so they are untrusted names.
  const lanes = new Map<string, { agent: string; intent: string; marks: string[] }>();
  calls.forEach((c, i) => {
    const key = JSON.stringify([c.agent, c.intent]);
    let lane = lanes.get(key);
    if (lane === undefined) {
      lane = { agent: c.agent, intent: c.intent, marks: [] };
      lanes.set(key, lane);
    }
    const left = (((c.startMs - t0) / span) * 100).toFixed(2);
    const title = `#${i + 1} ${iso(c.startMs)} ${c.tool}: ${label(c)}${c.reason ? ` (${c.reason})` : ''}`;
    lane.marks.push(`<a class="${markClass(c)}" style="left:${left}%" href="#call-${i + 1}" title="${escapeHtml(title)}">${i + 1}</a>`);
  });
  // The whole agent id is shown, wrapped if it must be: its last segment names the workload.
  const rows = [...lanes.values()]
    .map(
      (l) =>
        `<div class="lane"><div class="lane-name"><span class="agent">${escapeHtml(l.agent)}</span><span class="intent">intent ${escapeHtml(l.intent)}</span></div><div class="track">${l.marks.join('')}</div></div>`,
    )
    .join('\n');
  return `<h2>Timeline</h2>
<p class="legend"><span class="mark allow"></span> allowed <span class="mark deny"></span> denied <span class="mark error"></span> tool failed <span class="mark allow delegated"></span> delegated &nbsp; <span class="time">${escapeHtml(iso(t0))}</span> to <span class="time">${escapeHtml(iso(t0 + span))}</span>. Each mark's number is its row under Calls.</p>
<div class="timeline">
${rows}
</div>`;
}

function details(c: AuditCall): string {
  const items: [string, string][] = [];
  if (c.risk) items.push(['risk', c.risk]);
  if (c.policyIds.length > 0) items.push(['policy ids', c.policyIds.join(', ')]);
  if (c.approval) {
    const who = c.approver ? ` by ${c.approver}` : '';
    const wait = c.approvalWaitMs === undefined ? '' : `, waited ${waited(c.approvalWaitMs)}`;
    items.push(['approval', `${c.approval}${who}${wait}`]);
  }
  if (c.errorType) items.push(['error type', c.errorType]);
  if (c.delegationChain.length > 0 || c.delegationDepth > 0) {
    items.push(['delegated', `depth ${c.delegationDepth}${c.delegationChain.length > 0 ? `: ${c.delegationChain.join(' → ')}` : ''}`]);
    if (c.delegationRootId) items.push(['root capability id', c.delegationRootId]);
  }
  if (c.sideEffects.length > 0) items.push(['side effects', c.sideEffects.join(', ')]);
  if (c.callId) items.push(['call id', c.callId]);
  if (c.traceId) items.push(['trace id', c.traceId]);
  if (c.spanId) items.push(['span id', c.spanId]);
  if (c.capabilityId) items.push(['capability id', c.capabilityId]);
  return `<dl>${items.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('')}</dl>`;
}

function callTable(calls: readonly AuditCall[]): string {
  const rows = calls
    .map(
      (c, i) =>
        `<tr class="${c.decision} call" id="call-${i + 1}"><td class="n">${i + 1}</td><td class="time">${escapeHtml(iso(c.startMs))}</td><td class="id agent">${escapeHtml(c.agent)}<span class="intent">intent ${escapeHtml(c.intent)}</span></td><td>${escapeHtml(c.tool)}</td><td class="decision">${escapeHtml(label(c))}</td><td>${escapeHtml(c.reason ?? '')}</td></tr>
<tr class="${c.decision} detail"><td></td><td colspan="5">${details(c)}</td></tr>`,
    )
    .join('\n');
  return `<h2>Calls</h2>
<table class="calls"><thead><tr><th>#</th><th>time (UTC)</th><th>agent, intent</th><th>tool</th><th>decision</th><th>reason</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

function adviceGroup(g: GroupAdvice): string {
  const would = Object.entries(g.wouldDeny);
  const tools = g.tools
    .map((t) => {
      const r = t.retrieval;
      const read = r === undefined || r.calls === 0 ? '-' : `${r.records} records, ${r.bytes} bytes in ${r.calls} call(s); per intent at most ${r.maxRecordsPerIntent} records${r.labels.length > 0 ? `; labels ${r.labels.join(', ')}` : ''}`;
      return `<tr><td>${escapeHtml(t.tool)}</td><td class="n">${t.calls}</td><td class="n">${t.maxCallsPerIntent}</td><td class="n">${t.grantedMaxCalls ?? '-'}</td><td class="n">${t.advisedMaxCalls ?? '-'}</td><td>${escapeHtml(read)}</td></tr>`;
    })
    .join('\n');
  const findings = overGrant(g);
  return `<section class="advice">
<h3><span class="agent">${escapeHtml(g.agent)}</span> <span class="intent">purpose ${escapeHtml(g.purpose ?? '(unknown: no evidence recorded)')}</span></h3>
<p>${plural(g.intents, 'intent', 'intents')}, ${g.allowed} allowed, ${g.denied} denied${would.length > 0 ? `, <b class="deny">${would.reduce((n, [, c]) => n + c, 0)} would have been denied in enforce mode</b> (${escapeHtml(would.map(([c, n]) => `${c} ${n}`).join(', '))})` : ''}.</p>
<table><thead><tr><th>tool</th><th>allowed calls</th><th>most in one intent</th><th>maxCalls granted</th><th>maxCalls advised</th><th>retrieved</th></tr></thead>
<tbody>
${tools}
</tbody></table>
${g.granted === undefined ? '<p>No grant given for these calls: the advice is from the evidence alone.</p>' : findings.length === 0 ? '<p>Over-grant: none found.</p>' : `<h4>Over-grant</h4>\n<ul class="findings">${findings.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>`}
<h4>Advised grant</h4>
<pre>${escapeHtml(g.grant === undefined ? 'none: no call was allowed' : JSON.stringify(g.grant, null, 2))}</pre>
</section>`;
}

function adviceSection(a: Advice): string {
  if (a.groups.length === 0) return '';
  return `<h2>Least-privilege advice</h2>
<p class="legend">Per agent and intent purpose: what the allowed calls used, what the grant allowed beyond that, and the tightest grant that would still have allowed every allowed call (<code>tessera advise</code>).</p>
${a.groups.map(adviceGroup).join('\n')}`;
}

export function renderAuditHtml(s: AuditSummary, title = 'Tessera audit', advice?: Advice): string {
  const t = s.totals;
  const body =
    s.calls.length === 0
      ? '<p>No guarded tool calls found.</p>'
      : `<p class="totals">${plural(s.calls.length, 'guarded call', 'guarded calls')}: <b class="allow">${t.allowed} allowed</b> (${t.approved} after approval), <b class="deny">${t.denied} denied</b>, <b class="error">${plural(t.errors, 'tool error', 'tool errors')}</b></p>
${timeline(s.calls)}
${groupTable('intent', s.byIntent)}
${groupTable('agent', s.byAgent)}
${advice === undefined ? '' : adviceSection(advice)}
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
td{overflow-wrap:break-word}td.id{overflow-wrap:anywhere}td.agent{min-width:24ch}td.agent .intent{display:block;color:#6b7385;font-size:12px}td.n{text-align:right;font-variant-numeric:tabular-nums}
.time{white-space:nowrap;font-variant-numeric:tabular-nums}
.allow{color:#1a7f37}.deny{color:#c62828}.error{color:#9a6700}
tr.deny td{background:#fff5f5}tr.error td{background:#fffbea}
tr.call td{border-bottom:none}td.decision{font-weight:600}
tr.detail td{font-size:12px;color:#4a5263;padding-top:0}
dl{display:flex;flex-wrap:wrap;gap:.1rem 1.2rem;margin:0}dl div{display:flex;gap:.3rem;min-width:0}
dt{color:#6b7385;white-space:nowrap;flex:none}dd{margin:0;font-family:ui-monospace,monospace;overflow-wrap:anywhere}
.timeline{border:1px solid #e3e6ec;padding:.5rem}
.lane{display:flex;align-items:center;gap:.5rem;padding:.25rem 0;border-bottom:1px solid #f0f2f5}
.lane-name{flex:0 0 34ch;min-width:0;font-size:12px;overflow-wrap:anywhere}
.lane-name span{display:block}.lane-name .agent{font-family:ui-monospace,monospace}.lane-name .intent{color:#6b7385}
.track{position:relative;flex:1;height:1.2rem;background:#f4f6f9}
.mark{display:inline-block;box-sizing:border-box;min-width:14px;height:1.2rem;border-radius:2px;background:#1a7f37;color:#fff;font-size:9px;line-height:1.2rem;text-align:center;text-decoration:none}
.track .mark{position:absolute;top:0;margin-left:-7px}
.mark.deny{background:#c62828}.mark.error{background:#9a6700}.mark.delegated{outline:2px solid #5b3cc4;outline-offset:1px}
.legend .mark{vertical-align:middle;margin:0 .2rem 0 .8rem;height:1rem}
.advice{border-top:1px solid #e3e6ec;margin-top:1rem}.advice h3{font-size:1rem;overflow-wrap:anywhere}.advice .agent{font-family:ui-monospace,monospace}.advice .intent{color:#6b7385;font-weight:normal}
.advice pre{background:#f4f6f9;padding:.5rem;overflow-x:auto;font-size:12px}.findings li{overflow-wrap:anywhere}
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}
