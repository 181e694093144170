/**
 * Where approval requests and their answers live. Several service processes may serve one
 * inbox, so the first decision must win atomically in the store itself, not in any one process.
 */
import type { ApprovalRequest } from '../../policy/types.js';
import type { Clock } from '../../util/time.js';
import { systemClock } from '../../util/time.js';

/**
 * What the guard asked for, as the service keeps it: the guard's own approval request (never the
 * raw arguments; `argsPreview` is masked), without what only lives in the guard's process.
 */
export interface ApprovalRecord extends Omit<ApprovalRequest, 'signal' | 'timeoutMs' | 'pending' | 'intent'> {
  /** Server-generated, 128 random bits, base64url. */
  readonly id: string;
  /** The submitter's authenticated workload identity (never taken from the request body). */
  readonly agent: string;
  readonly intent: { readonly id: string; readonly purpose: string };
  /** ms since epoch; no decision is accepted after it. */
  readonly deadline: number;
  /** The approver group (a grant-policy role name) that may decide. Chosen by the service. */
  readonly route: string;
  readonly createdAt: number;
}

export interface ApprovalDecision {
  readonly outcome: 'approved' | 'denied';
  /** The approver's identity. */
  readonly approver: string;
  readonly reason?: string;
  readonly decidedAt: number;
}

export interface StoredApproval {
  readonly request: ApprovalRecord;
  readonly decision?: ApprovalDecision;
}

export type StoreDecideResult =
  | { readonly ok: true; readonly decision: ApprovalDecision }
  | { readonly ok: false; readonly why: 'unknown' }
  | { readonly ok: false; readonly why: 'expired' }
  | { readonly ok: false; readonly why: 'decided'; readonly decision: ApprovalDecision };

export interface ApprovalsStore {
  /** Stores a new request; it is forgotten some time after its deadline. */
  put(request: ApprovalRecord): Promise<void>;
  get(id: string): Promise<StoredApproval | undefined>;
  /** Undecided requests whose deadline has not passed at `now`, oldest first. */
  listPending(now: number): Promise<ApprovalRecord[]>;
  /**
   * Records a decision atomically: the first decision wins, a decision after the request's
   * deadline (by `decision.decidedAt`) is refused, and an unknown id is refused.
   */
  decide(id: string, decision: ApprovalDecision): Promise<StoreDecideResult>;
  /**
   * Resolves with the request once it is decided, or at `deadline` (ms since epoch, the store's
   * clock) with whatever it is then, or when `signal` aborts. Undefined for an unknown id.
   */
  waitFor(id: string, deadline: number, signal?: AbortSignal): Promise<StoredApproval | undefined>;
  close?(): Promise<void> | void;
}

/** How long a request is kept after its deadline, so that a late poll still reads its outcome. */
export const APPROVAL_RETENTION_MS = 10 * 60_000;
/** At most this many requests are listed at once. */
export const MAX_LISTED = 500;

export interface MemoryApprovalsStoreOptions {
  clock?: Clock;
}

/** One process only: for tests and a single service instance. */
export function createMemoryApprovalsStore(options: MemoryApprovalsStoreOptions = {}): ApprovalsStore {
  if (options.clock !== undefined && typeof options.clock !== 'function') {
    throw new TypeError('createMemoryApprovalsStore options.clock must be a function returning ms since epoch');
  }
  const clock = options.clock ?? systemClock;
  const entries = new Map<string, { request: ApprovalRecord; decision?: ApprovalDecision }>();
  const waiters = new Map<string, Set<() => void>>();

  const sweep = (): void => {
    const now = clock();
    for (const [id, e] of entries) if (e.request.deadline + APPROVAL_RETENTION_MS < now) entries.delete(id);
  };
  const snapshot = (e: { request: ApprovalRecord; decision?: ApprovalDecision }): StoredApproval =>
    e.decision === undefined ? { request: e.request } : { request: e.request, decision: e.decision };

  return {
    async put(request) {
      sweep();
      if (entries.has(request.id)) throw new RangeError('an approval request with this id already exists');
      entries.set(request.id, { request: structuredClone(request) });
    },
    async get(id) {
      const e = entries.get(id);
      return e === undefined ? undefined : snapshot(e);
    },
    async listPending(now) {
      sweep();
      const out: ApprovalRecord[] = [];
      for (const e of entries.values()) {
        if (e.decision === undefined && e.request.deadline > now) out.push(e.request);
      }
      return out.sort((a, b) => a.createdAt - b.createdAt).slice(0, MAX_LISTED);
    },
    async decide(id, decision) {
      const e = entries.get(id);
      if (e === undefined) return { ok: false, why: 'unknown' };
      if (e.decision !== undefined) return { ok: false, why: 'decided', decision: e.decision };
      if (decision.decidedAt > e.request.deadline) return { ok: false, why: 'expired' };
      e.decision = structuredClone(decision);
      const ws = waiters.get(id);
      waiters.delete(id);
      ws?.forEach((wake) => wake());
      return { ok: true, decision: e.decision };
    },
    waitFor(id, deadline, signal) {
      const e = entries.get(id);
      if (e === undefined) return Promise.resolve(undefined);
      if (e.decision !== undefined || deadline <= clock() || signal?.aborted === true) return Promise.resolve(snapshot(e));
      return new Promise((resolve) => {
        let set = waiters.get(id);
        if (set === undefined) waiters.set(id, (set = new Set()));
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          set!.delete(done);
          if (set!.size === 0 && waiters.get(id) === set) waiters.delete(id);
          const now = entries.get(id);
          resolve(now === undefined ? undefined : snapshot(now));
        };
        const timer = setTimeout(done, Math.max(0, deadline - clock()));
        signal?.addEventListener('abort', done, { once: true });
        set.add(done);
      });
    },
  };
}
