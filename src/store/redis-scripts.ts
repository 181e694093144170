/**
 * The Lua scripts behind the Redis store. Each runs atomically on the server, so one script is
 * one round trip and no other client sees a half-applied reservation. Semantics mirror the
 * memory store (src/store/memory.ts), which is the reference.
 *
 * Values: a revocation key holds the time (seconds) at or before which tokens are revoked; a
 * counter holds its count; a once-marker holds 1; a credential holds 1 live, 2 spent, 3 revoked.
 * Every key is written with an expiry, so nothing outlives the tokens it serves.
 */
import { createHash } from 'node:crypto';

export interface Script {
  readonly source: string;
  readonly sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });

/**
 * KEYS: revocation keys, once keys, counter keys, credential keys (in that order).
 * ARGV: the four counts, then per revocation its issuedAt, per once its ttl, per counter its
 * limit and ttl, per credential its ttl.
 * Returns {0} when reserved, or {reason, index into KEYS}: 1 revoked, 2 limit, 3 replay.
 */
export const RESERVE = script(`
local nr, no, nc, nk = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local a = 5
for k = 1, nr do
  local v = redis.call('GET', KEYS[k])
  if v and tonumber(v) >= tonumber(ARGV[a]) then return {1, k} end
  a = a + 1
end
local onceArg = a
for k = nr + 1, nr + no do
  if redis.call('EXISTS', KEYS[k]) == 1 then return {3, k} end
  a = a + 1
end
local counterArg = a
for k = nr + no + 1, nr + no + nc do
  local v = tonumber(redis.call('GET', KEYS[k]) or '0')
  if v + 1 > tonumber(ARGV[a]) then return {2, k} end
  a = a + 2
end
local credArg = a
a = counterArg
for k = nr + no + 1, nr + no + nc do
  if redis.call('INCR', KEYS[k]) == 1 then redis.call('PEXPIRE', KEYS[k], ARGV[a + 1]) end
  a = a + 2
end
a = onceArg
for k = nr + 1, nr + no do
  redis.call('SET', KEYS[k], '1', 'PX', ARGV[a])
  a = a + 1
end
a = credArg
for k = nr + no + nc + 1, nr + no + nc + nk do
  redis.call('SET', KEYS[k], '1', 'PX', ARGV[a])
  a = a + 1
end
return {0}
`);

/**
 * KEYS[1] revocation key; ARGV[1] time (seconds), ARGV[2] ttl (ms).
 * Keeps the later of the stored and the given time, and the longer of the two expiries, so a
 * revocation can only ever widen. The time is stored as given (Lua numbers would round it).
 */
export const REVOKE = script(`
local cur = redis.call('GET', KEYS[1])
local ttl = tonumber(ARGV[2])
if cur then
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl > ttl then ttl = pttl end
  if tonumber(cur) >= tonumber(ARGV[1]) then
    redis.call('PEXPIRE', KEYS[1], ttl)
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1
`);

/** KEYS[1] marker; ARGV[1] ttl (ms). Returns 1 when set now, 0 when it was already set. */
export const CONSUME_ONCE = script(`
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
`);

/** KEYS[1] credential. Returns 1 ok (was live, now spent), 2 spent, 3 revoked, 0 unknown. */
export const CONSUME_CREDENTIAL = script(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if v == '1' then
  redis.call('SET', KEYS[1], '2', 'KEEPTTL')
  return 1
end
if v == '2' then return 2 end
return 3
`);

/** KEYS[1] credential; ARGV[1] ttl (ms). A spent credential stays spent; an unknown one is kept revoked. */
export const REVOKE_CREDENTIAL = script(`
local v = redis.call('GET', KEYS[1])
if v == '1' then
  redis.call('SET', KEYS[1], '3', 'KEEPTTL')
elseif not v then
  redis.call('SET', KEYS[1], '3', 'PX', ARGV[1])
end
return 0
`);
