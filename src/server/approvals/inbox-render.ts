/**
 * The inbox's HTML. Everything a request carries came from an agent and, through its arguments,
 * from a model: it is escaped for HTML, and characters that could hide or reorder text (controls,
 * bidi overrides and isolates, zero-width and tag characters) are shown as visible `⟨U+XXXX⟩`
 * markers instead of being interpreted, so what the approver reads is what was sent.
 */
import type { ApprovalRecord } from './store.js';

// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\u{e0000}-\u{e0fff}]|[\ud800-\udfff]/gu;
const HTML: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Longest text shown for one field; the rest is cut with a visible note. */
export const MAX_SHOWN = 2000;

/** Escapes text for an HTML text node or a quoted attribute, making invisible characters visible. */
export function escapeText(value: unknown, max = MAX_SHOWN): string {
  let s = typeof value === 'string' ? value : String(value);
  let cut = '';
  if (s.length > max) {
    cut = ` … (${s.length - max} more characters)`;
    s = s.slice(0, max);
  }
  const visible = s.replace(INVISIBLE, (ch) => `⟨U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
  return visible.replace(/[&<>"']/g, (ch) => HTML[ch]!) + cut;
}

export interface RenderedRequest {
  readonly request: ApprovalRecord;
  /** Present when this approver may decide it: the form's CSRF token. */
  readonly csrf?: string;
  /** Why this approver may not decide it, when they may not. */
  readonly cannot?: string;
}

export interface InboxPage {
  readonly basePath: string;
  readonly nonce: string;
  readonly now: number;
  readonly approver: { readonly id: string; readonly name: string; readonly roles: readonly string[] };
  readonly requests: readonly RenderedRequest[];
  readonly notice?: { readonly kind: 'ok' | 'error'; readonly text: string };
}

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
header{background:#1b1f24;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;flex-wrap:wrap}
header .who{overflow-wrap:anywhere}
main{max-width:60rem;margin:0 auto;padding:1rem}
.notice{padding:.6rem .8rem;border-radius:4px;background:#e6f4ea}
.notice.error{background:#fde7e9}
article{background:#fff;border:1px solid #d0d4da;border-radius:6px;padding:.8rem 1rem;margin:1rem 0}
article.expired{opacity:.55}
h2{margin:.2rem 0 .6rem;font-size:1.1rem;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:9rem minmax(0,1fr);gap:.25rem .8rem;margin:0}
dt{color:#57606a}
dd{margin:0;overflow-wrap:anywhere;white-space:pre-wrap;unicode-bidi:isolate}
.risk{font-size:.8rem;padding:.05rem .4rem;border-radius:3px;background:#fff1c2}
.risk-high,.risk-critical{background:#ffd6d6}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.6rem 0}
th,td{border:1px solid #d0d4da;padding:.25rem .45rem;text-align:left;vertical-align:top;overflow-wrap:anywhere;white-space:pre-wrap;unicode-bidi:isolate}
th{width:12rem;background:#f6f8fa;font-weight:600}
code,td,.agent{font-family:ui-monospace,monospace}
form{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center}
input[name=reason]{flex:1;min-width:14rem;padding:.3rem}
button{padding:.35rem .9rem}
.cannot{color:#8a4b00}
.countdown{font-weight:600}
`;

// Counts down against the server's clock (the page carries the server's "now"), so a skewed laptop clock does not mislead.
const SCRIPT = `
(function(){var skew=Number(document.body.dataset.now)-Date.now();
function tick(){var now=Date.now()+skew;document.querySelectorAll('time[data-deadline]').forEach(function(el){
var ms=Number(el.dataset.deadline)-now;var art=el.closest('article');
if(ms<=0){el.textContent='expired';if(art){art.classList.add('expired');art.querySelectorAll('button').forEach(function(b){b.disabled=true;});}return;}
var s=Math.ceil(ms/1000);el.textContent=(s>=60?Math.floor(s/60)+'m ':'')+(s%60)+'s';});}
tick();setInterval(tick,1000);})();
`;

function remaining(ms: number): string {
  if (ms <= 0) return 'expired';
  const s = Math.ceil(ms / 1000);
  return `${s >= 60 ? `${Math.floor(s / 60)}m ` : ''}${s % 60}s`;
}

function renderRequest(page: InboxPage, r: RenderedRequest): string {
  const q = r.request;
  const id = escapeText(q.id, 64);
  const args = Object.entries(q.argsPreview ?? {})
    .map(([k, v]) => `<tr><th scope="row">${escapeText(k, 200)}</th><td dir="ltr">${escapeText(v)}</td></tr>`)
    .join('');
  const risk = escapeText(q.risk, 20);
  const form =
    r.csrf !== undefined
      ? `<form method="post" action="${escapeText(`${page.basePath}/inbox/${encodeURIComponent(q.id)}/decision`)}" class="decide">` +
        `<input type="hidden" name="csrf" value="${escapeText(r.csrf)}">` +
        `<input name="reason" maxlength="500" placeholder="Reason (shown to the agent's owner)" aria-label="Reason">` +
        `<button type="submit" name="decision" value="approve" class="approve">Approve</button>` +
        `<button type="submit" name="decision" value="deny" class="deny">Deny</button></form>`
      : `<p class="cannot">${escapeText(r.cannot ?? 'You may not decide this request.')}</p>`;
  return (
    `<article class="request" id="req-${id}" data-id="${id}">` +
    `<h2><code class="tool">${escapeText(q.tool, 300)}</code> <span class="risk risk-${risk}">${risk}</span></h2>` +
    `<dl>` +
    `<dt>Agent</dt><dd class="agent" dir="ltr">${escapeText(q.agent, 600)}</dd>` +
    `<dt>Intent</dt><dd class="intent" dir="ltr">${escapeText(q.intent?.purpose)} <small>(${escapeText(q.intent?.id, 200)})</small></dd>` +
    `<dt>Why approval</dt><dd class="why" dir="ltr">${escapeText(q.why)}</dd>` +
    `<dt>Approver group</dt><dd class="route">${escapeText(q.route, 200)}</dd>` +
    `<dt>Time left</dt><dd><time class="countdown" data-deadline="${Number(q.deadline)}" datetime="${new Date(Number(q.deadline)).toISOString()}">${remaining(q.deadline - page.now)}</time></dd>` +
    `</dl>` +
    `<table class="args"><caption hidden>Arguments (masked preview)</caption>${args || '<tr><td>(no arguments)</td></tr>'}</table>` +
    form +
    `</article>`
  );
}

export function renderInbox(page: InboxPage): string {
  const roles = page.approver.roles.length > 0 ? page.approver.roles.map((r) => escapeText(r, 200)).join(', ') : 'none';
  const notice = page.notice === undefined ? '' : `<p class="notice${page.notice.kind === 'error' ? ' error' : ''}" role="status">${escapeText(page.notice.text)}</p>`;
  const list = page.requests.length === 0 ? '<p class="empty">Nothing is waiting for approval.</p>' : page.requests.map((r) => renderRequest(page, r)).join('\n');
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>Approvals inbox</title><style nonce="${page.nonce}">${STYLE}</style></head>` +
    `<body data-now="${page.now}"><header><strong>Tessera approvals</strong>` +
    `<span class="who">Signed in as ${escapeText(page.approver.name, 200)} <code>${escapeText(page.approver.id, 600)}</code></span>` +
    `<span class="roles">Roles: ${roles}</span></header>` +
    `<main>${notice}<h1>Pending approvals (${page.requests.length})</h1>\n${list}</main>` +
    `<script nonce="${page.nonce}">${SCRIPT}</script></body></html>`
  );
}

/** A small page for sign-in errors and refusals. */
export function renderMessage(title: string, text: string, link: { href: string; label: string }, nonce: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeText(title)}</title><style nonce="${nonce}">${STYLE}</style></head>` +
    `<body><main><h1>${escapeText(title)}</h1><p class="message">${escapeText(text)}</p><p><a href="${escapeText(link.href)}">${escapeText(link.label)}</a></p></main></body></html>`
  );
}
