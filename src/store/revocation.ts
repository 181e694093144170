/**
 * Revocation over a store, shared by the authority, the guard and the CLI. A revocation is a key
 * holding a time in ms: every token issued at or before it is refused by every process sharing
 * the store, from its next call on.
 */
import type { Clock } from '../util/time.js';
import { revocationKey, type CallReservation, type TesseraStore } from './types.js';

export interface Revoker {
  /**
   * Revokes one capability by its id (`VerifiedCapability.id`: a root grant's `jti`, a delegated
   * capability's derived id), and with it every capability delegated from it.
   */
  revokeCapability(capabilityId: string): Promise<void>;
  /**
   * Emergency stop for one agent: revokes every capability granted to this identity up to this
   * millisecond. Grants made afterwards work.
   */
  revokeAgent(agentId: string): Promise<void>;
  /** Revokes every capability granted for this intent up to this millisecond. */
  revokeIntent(intentId: string): Promise<void>;
}

/** One id is revoked whatever its issue time: the time is "forever". */
export const REVOKED_FOREVER = Number.MAX_SAFE_INTEGER;

const requireId = (value: unknown, what: string): string => {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) {
    throw new TypeError(`${what} must be a non-empty string of at most 2048 characters`);
  }
  return value;
};

export interface RevokerOptions {
  /**
   * How long a revocation is kept, ms: at least the longest lifetime a revoked token can still
   * have, so the key expires only once nothing it refuses could verify anyway.
   */
  keepMs: number;
  /**
   * Added to the current time of an agent or intent revocation, ms; default 0. A guard revokes
   * "until now plus its clock skew", so that a token from an issuer whose clock runs ahead, issued
   * before the stop, is refused too. An authority that shares the store stamps later grants after
   * such a revocation (see `issueTimeAfterRevocations`), so they still work at once.
   */
  aheadMs?: number;
}

export function createRevoker(store: TesseraStore, clock: Clock, options: RevokerOptions): Revoker {
  const aheadMs = options.aheadMs ?? 0;
  const until = (): number => Math.floor(clock()) + aheadMs;
  const revoke = async (key: string, atMs: number): Promise<void> => {
    await store.revoke(key, atMs, options.keepMs);
  };
  return {
    revokeCapability: async (id) => revoke(revocationKey.capability(requireId(id, 'capabilityId')), REVOKED_FOREVER),
    revokeAgent: async (agentId) => revoke(revocationKey.agent(requireId(agentId, 'agentId')), until()),
    revokeIntent: async (intentId) => revoke(revocationKey.intent(requireId(intentId, 'intentId')), until()),
  };
}

/** How far past its own clock an authority looks for a revocation to stamp a grant after. */
export const STAMP_HORIZON_MS = 310_000;

/**
 * The issue time (ms) for a grant made now: `nowMs`, or just after the latest revocation the
 * store holds for these keys when that is later (a guard's stop covers its clock skew ahead).
 * The time is found with read-only `peek` questions (revoked at t?), by bisection within
 * `STAMP_HORIZON_MS`: a revocation is monotone in t. Without `peek`, when the store fails, or
 * past the horizon, the answer is `nowMs`: the grant is then refused while the revocation
 * covers it, which fails closed.
 */
export async function issueTimeAfterRevocations(
  store: TesseraStore,
  keys: readonly string[],
  nowMs: number,
  deadlineMs = 2000,
): Promise<number> {
  const peek = store.peek;
  if (typeof peek !== 'function' || keys.length === 0) return nowMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A store that hangs must not hang the grant: past the deadline the grant is stamped now.
  const late = new Promise<number>((resolve) => {
    timer = setTimeout(() => resolve(nowMs), deadlineMs);
  });
  try {
    return await Promise.race([search(peek.bind(store), keys, nowMs), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function search(
  peek: (r: CallReservation) => ReturnType<NonNullable<TesseraStore['peek']>>,
  keys: readonly string[],
  nowMs: number,
): Promise<number> {
  const revokedAt = async (t: number): Promise<boolean> => {
    const r: CallReservation = { revocations: keys.map((key) => ({ key, issuedAtMs: t })), counters: [], once: [], credentials: [] };
    const answer = await peek(r);
    return !answer.ok && answer.reason === 'revoked';
  };
  try {
    if (!(await revokedAt(nowMs))) return nowMs;
    let lo = nowMs;
    let hi = nowMs + STAMP_HORIZON_MS;
    if (await revokedAt(hi)) return nowMs;
    // Invariant: revoked at lo, not revoked at hi.
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (await revokedAt(mid)) lo = mid;
      else hi = mid;
    }
    return hi;
  } catch {
    return nowMs;
  }
}
