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
// SLOTS[i]: the hash slot of TAGS[i] (CLUSTER KEYSLOT, checked by the same test), so that the store
// knows which node serves a key without hashing it.
const SLOTS: readonly number[] = (
  '247 511 669 785 1165 1413 1584 1957 2099 2363 2595 2859 3300 3564 3828 4053 4310 4574 4796 5044 5292 5540 5649 6020 ' +
  '6162 6426 6790 6922 7365 7629 7893 8157 8373 8647 8927 9175 9471 9671 9842 10106 10353 10617 10849 11113 11298 11694 ' +
  '11958 12222 12436 12774 13054 13302 13534 13798 13907 14171 14416 14626 14912 15176 15495 15759 16023 16287'
)
  .split(' ')
  .map(Number);
const SLOT_OF_TAG = new Map(TAGS.map((tag, i) => [tag, SLOTS[i]!]));

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
  /** The hash slot of a Redis key this layout made; undefined for any other key. */
  slot(redisKey: string): number | undefined;
}

export function redisLayout(prefix: string): RedisLayout {
  const heads = TAGS.map((tag) => `${prefix}{${tag}}`);
  const key = (shard: number, k: string): string => heads[shard]! + k;
  return {
    key,
    home: (k) => key(shardOf(k), k),
    copies: (k) => (isReplicated(k) ? heads.map((head) => head + k) : [key(shardOf(k), k)]),
    counter: (k) => key(shardOfName(k.slice(0, Math.max(0, k.lastIndexOf(':')))), k),
    slot: (k) => {
      // The prefix has no braces, so the first '{' opens the tag.
      if (!k.startsWith(prefix) || k.charCodeAt(prefix.length) !== 123) return undefined;
      const end = k.indexOf('}', prefix.length + 1);
      return end < 0 ? undefined : SLOT_OF_TAG.get(k.slice(prefix.length + 1, end));
    },
  };
}

/** For tests: the hash tag of each shard. */
export const shardTags = (): readonly string[] => TAGS;

/** For tests: the hash slot of each shard's tag. */
export const shardSlots = (): readonly number[] => SLOTS;
