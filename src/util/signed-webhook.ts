/**
 * The signed webhook sender: a JSON body POSTed with an HMAC-SHA256 signature over `<t>.<body>`
 * in `X-Tessera-Signature` (`t=<unix seconds>,v1=<hex>`), retried after a 5xx, a network error
 * or a missed deadline with doubling backoff. The approvals service and the tripwires both send
 * through it, so one receiver check (`verifyWebhookSignature`) covers both.
 */
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Tessera-Signature';

export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export interface SignedDelivery {
  /** Attempts, including the first. */
  readonly attempts: number;
  /** Deadline of each attempt, ms. */
  readonly attemptTimeoutMs: number;
  /** First backoff, ms, doubled each retry. */
  readonly backoffMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * POSTs `body` to `url`, signed with `secret`; a 4xx is final. Resolves with whether it was
 * delivered; never throws. `what` names the webhook in the errors given to `onError`, which never
 * quote the URL or the body.
 */
export async function sendSignedWebhook(
  url: string,
  secret: string,
  body: string,
  delivery: SignedDelivery,
  clock: () => number,
  onError: (err: unknown) => void,
  what: string,
): Promise<boolean> {
  for (let attempt = 1; attempt <= delivery.attempts; attempt++) {
    // Signed per attempt: a retry late in the backoff still falls within the receiver's tolerance.
    const signature = signWebhook(secret, body, Math.floor(clock() / 1000));
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(delivery.attemptTimeoutMs),
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return true;
      onError(new Error(`${what} answered ${res.status}`));
      if (res.status < 500) return false;
    } catch (err) {
      onError(new Error(`${what} failed: ${err instanceof Error ? err.name : 'error'}`));
    }
    if (attempt < delivery.attempts) await sleep(delivery.backoffMs * 2 ** (attempt - 1));
  }
  return false;
}
