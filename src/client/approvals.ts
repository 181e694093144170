/**
 * `tessera-guard/approvals-client`: an approver that asks the approvals service. It submits the
 * call (masked preview and hashes, never raw arguments), then long-polls until a person decides
 * or the guard stops waiting. The answer carries the service's request id, so the guard uses it
 * once, and the call it was given for, so it cannot cover another call.
 */
import { ApprovalServiceError } from '../errors.js';
import type { ApprovalAnswer, ApprovalRequest, Approver } from '../policy/types.js';

export interface RemoteApproverOptions {
  /** The service's base URL including its path, e.g. `https://approvals.example.com/approvals`. https (http only on loopback). */
  url: string;
  /** The guard's workload identity token (JWT-SVID or OIDC), or a function fetching a fresh one. */
  identityToken: string | (() => Promise<string>);
  /** Pause after a failed poll before the next, ms; default 1,000. */
  pollMs?: number;
  /** Longest single long-poll, ms; default and most 25,000 (the service caps a wait at 30 s). */
  waitMs?: number;
  /** Deadline of each submission, ms; default 10,000. */
  requestTimeoutMs?: number;
  /** Used when the guard gives the approver no wait of its own, ms; default 60,000. */
  defaultTimeoutMs?: number;
  /** Told once the service holds the request. Its errors are ignored. */
  onPending?: (info: { readonly id: string; readonly route: string; readonly deadline: number }) => void;
}

export { ApprovalServiceError };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

const intOption = (value: number | undefined, fallback: number, name: string, min: number, max: number): number => {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`createRemoteApprover ${name} must be an integer from ${min} to ${max}`);
  return value;
};

/** Reads the service's error description (our own words), bounded; never the whole body. */
async function describe(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: unknown; error_description?: unknown };
    const code = typeof body.error === 'string' ? body.error.slice(0, 64) : 'error';
    const text = typeof body.error_description === 'string' ? body.error_description.slice(0, 300) : '';
    return `${res.status} ${code}${text ? `: ${text}` : ''}`;
  } catch {
    return `${res.status}`;
  }
}

export function createRemoteApprover(options: RemoteApproverOptions): Approver {
  if (options === null || typeof options !== 'object') throw new TypeError('createRemoteApprover needs an options object');
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new TypeError('createRemoteApprover url must be an absolute URL');
  }
  if (base.protocol !== 'https:' && !(base.protocol === 'http:' && LOOPBACK.has(base.hostname))) {
    throw new TypeError('createRemoteApprover url must be https (http only on loopback)');
  }
  if (base.username !== '' || base.password !== '' || base.search !== '' || base.hash !== '') {
    throw new TypeError('createRemoteApprover url must carry no credentials, query or fragment');
  }
  const root = base.href.replace(/\/+$/, '');
  const { identityToken, onPending } = options;
  if (typeof identityToken !== 'string' && typeof identityToken !== 'function') {
    throw new TypeError('createRemoteApprover identityToken must be a string or a function returning a promise of one');
  }
  if (onPending !== undefined && typeof onPending !== 'function') throw new TypeError('createRemoteApprover onPending must be a function');
  const pollMs = intOption(options.pollMs, 1_000, 'pollMs', 10, 60_000);
  const waitMs = intOption(options.waitMs, 25_000, 'waitMs', 0, 30_000);
  const requestTimeoutMs = intOption(options.requestTimeoutMs, 10_000, 'requestTimeoutMs', 1, 120_000);
  const defaultTimeoutMs = intOption(options.defaultTimeoutMs, 60_000, 'defaultTimeoutMs', 1, 24 * 3_600_000);

  const token = async (): Promise<string> => {
    const t = typeof identityToken === 'string' ? identityToken : await identityToken();
    if (typeof t !== 'string' || t.length === 0) throw new ApprovalServiceError('the identity token function returned no token');
    return t;
  };

  const call = async (path: string, init: RequestInit, signal: AbortSignal, ms: number): Promise<Response> => {
    const auth = await token();
    try {
      return await fetch(`${root}${path}`, {
        ...init,
        headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${auth}` },
        redirect: 'error',
        signal: AbortSignal.any([signal, AbortSignal.timeout(ms)]),
      });
    } catch (err) {
      // The fetch error may quote the request; only its class goes on.
      throw new ApprovalServiceError(`the service could not be reached (${err instanceof Error ? err.name : 'error'})`);
    }
  };

  return async (request: ApprovalRequest): Promise<ApprovalAnswer> => {
    const { signal } = request;
    const timeoutMs = typeof request.timeoutMs === 'number' && request.timeoutMs > 0 ? request.timeoutMs : defaultTimeoutMs;
    const submitted = await call(
      '/requests',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          intent: { id: request.intent.id, purpose: request.intent.purpose },
          tool: request.tool,
          risk: request.risk,
          argsPreview: request.argsPreview,
          argsHash: request.argsHash,
          capabilityId: request.capabilityId,
          callId: request.callId,
          why: request.why.slice(0, 1000),
          policyIds: request.policyIds,
          timeoutMs,
        }),
      },
      signal,
      requestTimeoutMs,
    );
    if (submitted.status !== 201) throw new ApprovalServiceError(`the request was refused (${await describe(submitted)})`, submitted.status);
    const created = (await submitted.json().catch(() => undefined)) as { id?: unknown; route?: unknown; deadline?: unknown } | undefined;
    if (typeof created?.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(created.id)) throw new ApprovalServiceError('the service answered without a request id');
    const id = created.id;
    const route = typeof created.route === 'string' ? created.route : '';
    try {
      request.pending?.({ route });
    } catch {
      // The guard's own hook; nothing to do here.
    }
    try {
      onPending?.({ id, route, deadline: typeof created.deadline === 'number' ? created.deadline : Date.now() + timeoutMs });
    } catch {
      // Informational only.
    }

    while (!signal.aborted) {
      let res: Response;
      try {
        res = await call(`/requests/${encodeURIComponent(id)}/decision?wait=${waitMs}`, { method: 'GET' }, signal, waitMs + requestTimeoutMs);
      } catch (err) {
        if (signal.aborted) break;
        void err;
        await sleep(pollMs, signal);
        continue;
      }
      if (res.status >= 500) {
        await res.body?.cancel().catch(() => undefined);
        await sleep(pollMs, signal);
        continue;
      }
      if (res.status !== 200) throw new ApprovalServiceError(`the decision could not be read (${await describe(res)})`, res.status);
      const body = (await res.json().catch(() => undefined)) as
        | { status?: unknown; approver?: unknown; reason?: unknown; binding?: { tool?: unknown; argsHash?: unknown; capabilityId?: unknown } }
        | undefined;
      const approver = typeof body?.approver === 'string' ? body.approver : undefined;
      if (body?.status === 'approved') {
        const b = body.binding;
        if (b === undefined || typeof b.tool !== 'string' || typeof b.argsHash !== 'string' || typeof b.capabilityId !== 'string') {
          throw new ApprovalServiceError('the service approved without naming the call it approved');
        }
        return {
          approved: true,
          ...(approver === undefined ? {} : { approver }),
          id: `approvals-service:${id}`,
          binding: { tool: b.tool, argsHash: b.argsHash, capabilityId: b.capabilityId },
        };
      }
      if (body?.status === 'denied') {
        return {
          approved: false,
          ...(approver === undefined ? {} : { approver }),
          ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
        };
      }
      if (body?.status === 'expired') {
        // The service's deadline passed first: nobody answered. The guard's own deadline decides (a timeout).
        await sleep(timeoutMs, signal);
        break;
      }
      if (body?.status !== 'pending') throw new ApprovalServiceError('the service answered with an unknown status');
    }
    throw new ApprovalServiceError('the guard stopped waiting before anyone answered');
  };
}
