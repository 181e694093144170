/**
 * Where the Redis store keeps each key, so that Redis Cluster spreads the load and one call still
 * costs one script on one node.
 *
 * A key's name is `<prefix>{<tag>}<logical key>`: Redis hashes only the `{tag}`, so every key
 * with the same tag lives in the same hash slot. There are `SHARDS` tags, one in each
 * 1/`SHARDS` of the slot space (0-16383), so a cluster whose primaries serve even slot ranges
 * serves even numbers of shards.
 *
 * A key belongs to the shard of its root capability id: the text after the first `:` up to the
 * next `.` or `:` (`cap:<id>`, `calls:<id>:<tool>`, `pop:<id>:<jti>`; a delegated id is
 * `<root id>.<hash>`; a call credential's id is `<root id>.<random>`). Every key one guarded call
 * reserves therefore shares one slot, and so does each capability's whole delegation chain.
 *
 * Agent and intent revocations (`agent:<id>`, `intent:<id>`) cut across roots: they are written
 * to every shard when set (rare) and read, inside the call's own script, from the call's shard.
 */

/** How many shards (hash tags) the keys are spread over. Changing it changes every key's name. */
export const SHARDS = 64;

// TAGS[i] hashes (CRC16, as Redis Cluster does) into slots [256 i, 256 i + 255]: the first base-36
// counter value landing in each range. A test checks each against a real server's CLUSTER KEYSLOT.
const TAGS: readonly string[] = (
  '10 18 6h 6d 29 21 3 4s 1p 1x 1a 1i b j s 2d 11 19 6i 6a 28 20 2 4r 1q 1y 1d 1h c k r z ' +
  '12 6s 6j 6b 4h 23 1 9 1r 1z 1c 1k d h q y 13 6r 6k 6c 4i 22 0 8 1s 62 1b 1j a i p x'
).split(' ');

/** Logical key kinds that are copied to every shard. */
const REPLICATED = ['agent:', 'intent:'] as const;

/** Whether `key` is copied to every shard (an agent or intent revocation). */
export const isReplicated = (key: string): boolean => key.startsWith(REPLICATED[0]) || key.startsWith(REPLICATED[1]);

/** The text a key's shard is chosen by: after the first `:`, up to the next `.` or `:`. */
export function shardName(key: string): string {
  const start = key.indexOf(':') + 1;
  let end = start;
  while (end < key.length) {
    const c = key.charCodeAt(end);
    if (c === 0x2e /* . */ || c === 0x3a /* : */) break;
    end++;
  }
  return end > start ? key.slice(start, end) : key;
}

/** FNV-1a (32 bits) of a name, reduced to a shard: cheap, stable across processes and versions. */
export function shardOfName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % SHARDS;
}

/**
 * The shard of a key that lives in one place. A replicated key's copy in shard 0 answers for
 * single-key operations; a call reads the copy in its own shard.
 */
export const shardOf = (key: string): number => (isReplicated(key) ? 0 : shardOfName(shardName(key)));

export interface RedisLayout {
  /** The Redis key of `key` in `shard`. */
  key(shard: number, key: string): string;
  /** The Redis key of `key` in its own shard. */
  home(key: string): string;
  /** Every Redis key `key` is kept under: one per shard if replicated, else its home. */
  copies(key: string): string[];
}

export function redisLayout(prefix: string): RedisLayout {
  const heads = TAGS.map((tag) => `${prefix}{${tag}}`);
  const key = (shard: number, k: string): string => heads[shard]! + k;
  return {
    key,
    home: (k) => key(shardOf(k), k),
    copies: (k) => (isReplicated(k) ? heads.map((head) => head + k) : [key(shardOf(k), k)]),
  };
}

/** For tests: the hash tag of each shard. */
export const shardTags = (): readonly string[] => TAGS;
