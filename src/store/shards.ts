/**
 * How a store that spreads its keys (the Redis store on Redis Cluster) picks a key's shard from its
 * name alone, so that every key one call reserves lands in the same shard and a credential's
 * marker is found from the credential's id.
 *
 * A key's shard is chosen by the text after its first `:` up to the next `.` or `:`: for
 * `cap:<id>`, `calls:<id>:<tool>` and `pop:<id>:<jti>` that is the root grant's id (a delegated
 * id is `<root id>.<hash>`). A call credential's id is 22 base64url characters whose first two
 * are in the same shard as its call's root id (`shardPrefix`): as short as any random id, so
 * stores that pack such ids still do.
 */

/** How many shards (hash tags) the keys are spread over. Changing it changes every key's name. */
export const SHARDS = 64;

/** Logical key kinds that are copied to every shard. */
const REPLICATED = ['agent:', 'intent:'] as const;

/** Whether `key` is copied to every shard (an agent or intent revocation). */
export const isReplicated = (key: string): boolean => key.startsWith(REPLICATED[0]) || key.startsWith(REPLICATED[1]);

/**
 * The text a key's shard is chosen by: after the first `:`, up to the next `.` or `:`; for a
 * credential id without `.`, its first two characters (see `shardPrefix`).
 */
export function shardName(key: string): string {
  const start = key.indexOf(':') + 1;
  let end = start;
  while (end < key.length) {
    const c = key.charCodeAt(end);
    if (c === 0x2e /* . */ || c === 0x3a /* : */) break;
    end++;
  }
  // A credential id without "." (a Tessera-made one) names its shard by its first two characters.
  if (end === key.length && key.startsWith('cred:')) return key.slice(start, start + 2);
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


// PREFIXES[s] is a two-character base64url string in shard s: a Tessera-made credential id (22
// base64url characters, no ".") begins with the one of its call's root shard.
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const PREFIXES: readonly string[] = (() => {
  const prefixes = new Array<string>(SHARDS);
  for (const a of BASE64URL) {
    for (const b of BASE64URL) {
      const shard = shardOfName(a + b);
      prefixes[shard] ??= a + b;
    }
  }
  return prefixes;
})();

/** Two base64url characters whose shard is `name`'s: the first two of a credential id. */
export const shardPrefix = (name: string): string => PREFIXES[shardOfName(name)]!;
