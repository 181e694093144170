/**
 * Human approval with a deadline: no answer in time is `approval_timeout`, a "no" is
 * `approval_denied`, and an approver that throws is a denial too.
 */
import type { ApprovalAnswer, ApprovalRequest, Approver } from './types.js';

export type ApprovalOutcome =
  | { readonly outcome: 'approved'; readonly approver: string | undefined; readonly waitMs: number }
  | { readonly outcome: 'denied'; readonly approver: string | undefined; readonly reason: string; readonly waitMs: number }
  | { readonly outcome: 'timeout'; readonly waitMs: number }
  | { readonly outcome: 'error'; readonly error: unknown; readonly waitMs: number };

export async function askApproval(
  approver: Approver,
  request: Omit<ApprovalRequest, 'signal'>,
  deadlineMs: number,
  callSignal: AbortSignal,
): Promise<ApprovalOutcome> {
  const started = performance.now();
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(callSignal.reason);
  callSignal.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadlineMs);
  });
  try {
    const answer = await Promise.race([
      Promise.resolve().then(() => approver({ ...request, signal: controller.signal })),
      timeout,
    ]);
    const waitMs = performance.now() - started;
    if (answer === 'timeout') return { outcome: 'timeout', waitMs };
    const a = answer as ApprovalAnswer;
    if (a !== null && typeof a === 'object' && a.approved === true) return { outcome: 'approved', approver: a.approver, waitMs };
    return {
      outcome: 'denied',
      approver: a?.approver,
      reason: typeof a?.reason === 'string' ? a.reason : 'the approver said no',
      waitMs,
    };
  } catch (error) {
    return { outcome: 'error', error, waitMs: performance.now() - started };
  } finally {
    clearTimeout(timer);
    callSignal.removeEventListener('abort', onAbort);
    controller.abort();
  }
}

const SECRET_KEY = /(pass(word)?|secret|token|api[_-]?key|authorization|cookie|credential|private)/i;

/** A safe preview of arguments for an approver: strings truncated, secret-looking keys masked. */
export function previewArguments(args: Readonly<Record<string, unknown>>, maxLength = 120): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(args)) {
    if (SECRET_KEY.test(k)) {
      out[k] = '[redacted]';
      continue;
    }
    let s: string;
    try {
      s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
    } catch {
      s = '[unserializable]';
    }
    out[k] = s.length > maxLength ? `${s.slice(0, maxLength - 1)}…` : s;
  }
  return out;
}
