/**
 * Where the Redis store keeps each key, so that Redis Cluster spreads the load and one call still
 * costs one script on one node.
 *
 * A key's name is `<prefix>{<tag>}<logical key>`: Redis hashes only the `{tag}`, so every key
 * with the same tag lives in the same hash slot. There is one tag per shard (`shards.ts` says how
 * a key's shard is chosen), each hashing into its own 1/`SHARDS` of the slot space (0-16383), so
 * a cluster whose primaries serve even slot ranges serves even numbers of shards. Agent and
 * intent revocations cut across roots: they are written under every tag when set (rare) and
 * read, inside the call's own script, under the call's tag.
 */
import { isReplicated, SHARDS, shardOf, shardOfName } from './shards.js';

export { SHARDS };

// TAGS[i] hashes (CRC16, as Redis Cluster does) into slots [256 i, 256 i + 255]: the first base-36
// counter value landing in each range. A test checks each against a real server's CLUSTER KEYSLOT.
const TAGS: readonly string[] = (
  '10 18 6h 6d 29 21 3 4s 1p 1x 1a 1i b j s 2d 11 19 6i 6a 28 20 2 4r 1q 1y 1d 1h c k r z ' +
  '12 6s 6j 6b 4h 23 1 9 1r 1z 1c 1k d h q y 13 6r 6k 6c 4i 22 0 8 1s 62 1b 1j a i p x'
).split(' ');

export interface RedisLayout {
  /** The Redis key of `key` in `shard`. */
  key(shard: number, key: string): string;
  /** The Redis key of `key` in its own shard. */
  home(key: string): string;
  /** Every Redis key `key` is kept under: one per shard if replicated, else its home. */
  copies(key: string): string[];
  /**
   * The Redis key of a counter added to with `addWithin`: its shard is named by the text before the
   * key's last ':' (for a retrieval counter, the intent and tool), so an intent's records and bytes
   * counters for one tool share a slot and one script adds to both.
   */
  counter(key: string): string;
}

export function redisLayout(prefix: string): RedisLayout {
  const heads = TAGS.map((tag) => `${prefix}{${tag}}`);
  const key = (shard: number, k: string): string => heads[shard]! + k;
  return {
    key,
    home: (k) => key(shardOf(k), k),
    copies: (k) => (isReplicated(k) ? heads.map((head) => head + k) : [key(shardOf(k), k)]),
    counter: (k) => key(shardOfName(k.slice(0, Math.max(0, k.lastIndexOf(':')))), k),
  };
}

/** For tests: the hash tag of each shard. */
export const shardTags = (): readonly string[] => TAGS;
