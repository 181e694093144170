/**
 * Revocation over a store, shared by the authority and the guard. A revocation is a key holding
 * a time: every token issued at or before it is refused by every process sharing the store,
 * from its next call on.
 */
import type { Clock } from '../util/time.js';
import { revocationKey, type TesseraStore } from './types.js';

export interface Revoker {
  /** Revokes one capability by id (`jti`), and with it every capability delegated from it. */
  revokeCapability(capabilityId: string): Promise<void>;
  /**
   * Emergency stop for one agent: revokes every capability granted to this identity until now,
   * including those issued earlier in the current second. Grants made afterwards work again.
   */
  revokeAgent(agentId: string): Promise<void>;
  /** Revokes every capability granted for this intent until now. */
  revokeIntent(intentId: string): Promise<void>;
}

const requireId = (value: unknown, what: string): string => {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) {
    throw new TypeError(`${what} must be a non-empty string of at most 2048 characters`);
  }
  return value;
};

/**
 * `keepMs` is how long a revocation is kept: at least the longest lifetime a revoked token can
 * still have, so the key expires only once nothing it refuses could verify anyway.
 */
export function createRevoker(store: TesseraStore, clock: Clock, keepMs: number): Revoker {
  const revoke = async (key: string, at: number): Promise<void> => {
    await store.revoke(key, at, keepMs);
  };
  return {
    // One id is revoked whatever its issue time, so the time is "forever".
    revokeCapability: async (id) => revoke(revocationKey.capability(requireId(id, 'capabilityId')), Number.MAX_SAFE_INTEGER),
    revokeAgent: async (agentId) => revoke(revocationKey.agent(requireId(agentId, 'agentId')), clock()),
    revokeIntent: async (intentId) => revoke(revocationKey.intent(requireId(intentId, 'intentId')), clock()),
  };
}
