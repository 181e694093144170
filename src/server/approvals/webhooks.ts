/**
 * Telling people that a request waits. Each webhook gets a JSON body (or Slack-compatible
 * `{ text }`) signed with HMAC-SHA256 over `<t>.<body>`, so a receiver can check it came from
 * this service and is fresh. Bodies carry the masked preview only, never raw arguments.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { sendSignedWebhook, SIGNATURE_HEADER, signWebhook } from '../../util/signed-webhook.js';
import type { ApprovalRecord } from './store.js';

export { SIGNATURE_HEADER, signWebhook };

export interface ApprovalWebhook {
  /** https (http only to loopback). Redirects are not followed. */
  url: string;
  /** HMAC key, at least 32 characters. */
  secret: string;
  /** `json` (default) or `slack` (`{ text }`). */
  format?: 'json' | 'slack' | undefined;
}

export interface WebhookDelivery {
  /** Attempts per notification, including the first; default 4. */
  attempts?: number;
  /** Deadline of each attempt, ms; default 5,000. */
  attemptTimeoutMs?: number;
  /** First backoff, ms, doubled each retry; default 500. */
  backoffMs?: number;
}

/** The JSON notification body: what a person needs to find and judge the request. */
export function notificationBody(record: ApprovalRecord, link: string): Record<string, unknown> {
  return {
    id: record.id,
    agent: record.agent,
    intent: { id: record.intent.id, purpose: record.intent.purpose },
    tool: record.tool,
    risk: record.risk,
    why: record.why,
    argsPreview: { ...record.argsPreview },
    deadline: new Date(record.deadline).toISOString(),
    link,
  };
}

// Slack reads <...> as links and mentions; an agent-chosen purpose must not become one.
const slackEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function slackText(record: ApprovalRecord, link: string): string {
  return [
    `Approval needed: ${slackEscape(record.agent)} wants to call ${slackEscape(record.tool)} (${record.risk}).`,
    `Intent: ${slackEscape(record.intent.purpose)}`,
    `Why: ${slackEscape(record.why)}`,
    `Decide before ${new Date(record.deadline).toISOString()}: <${link}|open the inbox>`,
  ].join('\n');
}

/**
 * For receivers: true only when `header` carries a `v1` HMAC of `<t>.<body>` under `secret` and
 * `t` lies within `toleranceSec` (default 300) of now. Compare the raw body bytes as received.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string,
  options: { toleranceSec?: number; now?: number } = {},
): boolean {
  if (typeof secret !== 'string' || secret.length === 0) throw new TypeError('verifyWebhookSignature needs the shared secret');
  const toleranceSec = options.toleranceSec ?? 300;
  if (!Number.isFinite(toleranceSec) || toleranceSec < 0) throw new RangeError('verifyWebhookSignature options.toleranceSec must be a non-negative number');
  if (typeof header !== 'string' || header.length > 1024 || typeof body !== 'string') return false;
  let t: number | undefined;
  const macs: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) macs.push(v);
  }
  if (t === undefined || macs.length === 0) return false;
  const nowSec = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSec - t) > toleranceSec) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return macs.some((m) => timingSafeEqual(Buffer.from(m, 'hex'), expected));
}

/**
 * Delivers one notification: retries after a 5xx, a network error or a missed deadline, with
 * doubling backoff, at most `attempts` times; a 4xx is final. Resolves with whether it was
 * delivered; never throws.
 */
export async function deliverWebhook(
  hook: ApprovalWebhook,
  record: ApprovalRecord,
  link: string,
  delivery: Required<WebhookDelivery>,
  clock: () => number,
  onError: (err: unknown) => void,
): Promise<boolean> {
  const body = JSON.stringify(hook.format === 'slack' ? { text: slackText(record, link) } : notificationBody(record, link));
  return sendSignedWebhook(hook.url, hook.secret, body, delivery, clock, onError, 'approval webhook');
}
