/**
 * Human approval with a deadline: no answer in time is `approval_timeout`, a "no" is
 * `approval_denied`, and an approver that throws is a denial too.
 */
import type { ApprovalAnswer, ApprovalBinding, ApprovalRequest, Approver } from './types.js';

/** How long a used approval id is remembered (at least as long as the capability lives). */
export const APPROVAL_MARKER_TTL_MS = 24 * 3_600_000;

export type ApprovalOutcome =
  | { readonly outcome: 'approved'; readonly approver: string | undefined; readonly id: string | undefined; readonly waitMs: number }
  | { readonly outcome: 'mismatch'; readonly approver: string | undefined; readonly waitMs: number }
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
    const who = typeof a?.approver === 'string' ? a.approver.slice(0, 256) : undefined;
    if (a !== null && typeof a === 'object' && a.approved === true) {
      if (a.id !== undefined && (typeof a.id !== 'string' || a.id.length === 0 || a.id.length > 256)) {
        return { outcome: 'error', error: new TypeError('approval id must be a string of 1 to 256 characters'), waitMs };
      }
      if (a.binding !== undefined && !sameCall(a.binding, request)) return { outcome: 'mismatch', approver: who, waitMs };
      return { outcome: 'approved', approver: who, id: a.id, waitMs };
    }
    return {
      outcome: 'denied',
      approver: who,
      reason: typeof a?.reason === 'string' && a.reason !== '' ? a.reason.slice(0, 300) : 'the approver said no',
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

function sameCall(b: ApprovalBinding, r: Omit<ApprovalRequest, 'signal'>): boolean {
  return b !== null && typeof b === 'object' && b.tool === r.tool && b.argsHash === r.argsHash && b.capabilityId === r.capabilityId;
}

/** The binding of a request, for approvers that hand approvals out of band and echo them back. */
export function bindingOf(request: Pick<ApprovalRequest, 'tool' | 'argsHash' | 'capabilityId'>): ApprovalBinding {
  return { tool: request.tool, argsHash: request.argsHash, capabilityId: request.capabilityId };
}

const SECRET_KEY = /(pass(word)?|secret|token|api[_-]?key|authorization|cookie|credential|private)/i;
/** Values that look like bearer material whatever their key is called: JWTs, PEM blocks. */
const SECRET_VALUE = /^(eyJ[\w-]{5,}\.[\w-]{5,}\.|-----BEGIN |Bearer\s)/;

const redact = (key: string, value: unknown): unknown => {
  if (key !== '' && SECRET_KEY.test(key)) return '[redacted]';
  if (typeof value === 'string' && SECRET_VALUE.test(value)) return '[redacted]';
  return value;
};

/**
 * A safe preview of arguments for an approver: strings truncated, secret-looking keys masked at
 * any depth, token-looking values masked whatever their key.
 */
export function previewArguments(args: Readonly<Record<string, unknown>>, maxLength = 120): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(args)) {
    let s: string;
    try {
      const masked = redact(k, v);
      s = typeof masked === 'string' ? masked : JSON.stringify(masked, redact) ?? String(masked);
    } catch {
      s = '[unserializable]';
    }
    out[k] = s.length > maxLength ? `${s.slice(0, maxLength - 1)}…` : s;
  }
  return out;
}
