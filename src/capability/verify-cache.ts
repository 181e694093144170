/**
 * The verify cache: verified capabilities kept until they expire, within a memory budget.
 *
 * Keys are SHA-256 digests of the token (32 bytes, whatever the token's size), so the budget
 * bounds what the cache holds rather than what callers pass in. Each entry carries an estimate
 * of the bytes it keeps alive; inserting evicts from the oldest end until the total fits.
 * Eviction is second-chance (CLOCK): an entry read since it was inserted moves to the young end
 * once instead of being evicted, so hot capabilities stay while a sweep of one-off ones passes
 * through. Expired entries are dropped when read or when they reach the oldest end: no scans.
 */
import { createHash } from 'node:crypto';

/** Default memory budget of the verify cache, bytes. */
export const DEFAULT_VERIFY_CACHE_BYTES = 64 * 1024 * 1024;

export interface CacheSlot<V> {
  readonly value: V;
  readonly bytes: number;
  /** Seconds since the epoch from which the value is never returned (seconds stay small integers, ms would not). */
  readonly expiresAtSec: number;
  /** Read since inserted (second chance). */
  hot: boolean;
}

export interface VerifyCache<V, S extends CacheSlot<V>> {
  /** The slot for this digest, or undefined; an expired one is dropped. */
  get(digest: string, nowMs: number): S | undefined;
  set(digest: string, slot: S, nowMs: number): void;
  delete(digest: string): void;
  readonly size: number;
  /** Estimated bytes held. */
  readonly bytes: number;
  readonly maxBytes: number;
}

/**
 * The cache key of a token. One-entry memo: the pipeline asks for the cached capability and, on
 * a miss, verifies the same token right after.
 */
export function createTokenDigest(): (token: string) => string {
  let lastToken = '';
  let lastDigest = '';
  return (token) => {
    if (token === lastToken) return lastDigest;
    const d = createHash('sha256').update(token).digest('base64url');
    lastToken = token;
    lastDigest = d;
    return d;
  };
}

/**
 * `release` is told of every slot that leaves; `shared()` is the bytes held outside the entries
 * on their behalf (compiled grants they share), counted against the same budget.
 */
export function createVerifyCache<V, S extends CacheSlot<V>>(maxBytes: number, release?: (slot: S) => void, shared: () => number = () => 0): VerifyCache<V, S> {
  const map = new Map<string, S>();
  let bytes = 0;

  const remove = (digest: string, slot: S): void => {
    map.delete(digest);
    bytes -= slot.bytes;
    release?.(slot);
  };

  // Makes room for `need` bytes. Each step evicts one entry or moves one hot entry to the young
  // end and clears its flag, so the loop ends within two passes at most.
  const evict = (need: number, nowMs: number): void => {
    while (bytes + shared() + need > maxBytes && map.size > 0) {
      const oldest = map.entries().next().value as [string, S];
      const [digest, slot] = oldest;
      if (slot.hot && slot.expiresAtSec * 1000 > nowMs) {
        slot.hot = false;
        map.delete(digest);
        map.set(digest, slot);
        continue;
      }
      remove(digest, slot);
    }
  };

  return {
    get(digest, nowMs) {
      const slot = map.get(digest);
      if (slot === undefined) return undefined;
      if (nowMs >= slot.expiresAtSec * 1000) {
        remove(digest, slot);
        return undefined;
      }
      slot.hot = true;
      return slot;
    },
    set(digest, slot, nowMs) {
      const old = map.get(digest);
      if (old !== undefined) remove(digest, old);
      if (slot.bytes + shared() > maxBytes) {
        release?.(slot);
        return;
      }
      // Entries that have expired at the oldest end go first; each is dropped once, so this
      // costs O(1) per insertion on average.
      for (let first = map.entries().next(); !first.done && first.value[1].expiresAtSec * 1000 <= nowMs; first = map.entries().next()) {
        remove(first.value[0], first.value[1]);
      }
      evict(slot.bytes, nowMs);
      map.set(digest, slot);
      bytes += slot.bytes;
    },
    delete(digest) {
      const slot = map.get(digest);
      if (slot !== undefined) remove(digest, slot);
    },
    get size() {
      return map.size;
    },
    get bytes() {
      return bytes;
    },
    maxBytes,
  };
}
