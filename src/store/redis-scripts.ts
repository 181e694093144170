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

// A spent credential stays spent; a live one becomes revoked; an unknown one is kept revoked.
const REVOKE_CREDENTIAL_BODY = `
  local v = redis.call('GET', key)
  if v == '1' then
    redis.call('SET', key, '3', 'KEEPTTL')
  elseif not v then
    redis.call('SET', key, '3', 'PX', ttl)
  end`;

/**
 * KEYS: revocation keys, once keys, counter keys, credential keys, then credentials to revoke.
 * ARGV: the five counts, then per revocation its issuedAt, per once its ttl, per counter its
 * limit and ttl, per credential its ttl, per credential to revoke its ttl.
 * Credentials whose calls have ended ride along with the next reservation, so that revoking
 * them costs no round trip of its own; they are revoked whatever the reservation's outcome.
 * Returns {0} when reserved, or {reason, index into KEYS}: 1 revoked, 2 limit, 3 replay.
 *
 * All checks come before any write, because Redis does not roll a script back when it fails
 * halfway. Reads are batched (one MGET, one EXISTS): each redis.call costs about a microsecond
 * of server time, which is visible next to a loopback round trip.
 */
export const RESERVE = script(`
local nr, no, nc, nk, nx = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local c0 = nr + no
for i = 1, nx do
  local key, ttl = KEYS[c0 + nc + nk + i], ARGV[5 + c0 + 2 * nc + nk + i]
  ${REVOKE_CREDENTIAL_BODY}
end
local read = {}
for k = 1, nr do read[k] = KEYS[k] end
for i = 1, nc do read[nr + i] = KEYS[c0 + i] end
local vals = {}
if nr + nc > 0 then vals = redis.call('MGET', unpack(read)) end
for k = 1, nr do
  local v = vals[k]
  if v then
    local at = tonumber(v)
    if not at then return redis.error_reply('ERR tessera: revocation entry is not a number') end
    if at >= tonumber(ARGV[5 + k]) then return {1, k} end
  end
end
if no > 0 and redis.call('EXISTS', unpack(KEYS, nr + 1, c0)) > 0 then
  for k = nr + 1, c0 do
    if redis.call('EXISTS', KEYS[k]) == 1 then return {3, k} end
  end
end
local a = 5 + c0
for i = 1, nc do
  local v = vals[nr + i]
  local count = 0
  if v then
    count = tonumber(v)
    if not count then return redis.error_reply('ERR tessera: counter entry is not a number') end
  end
  if count + 1 > tonumber(ARGV[a + 2 * i - 1]) then return {2, c0 + i} end
end
for i = 1, nc do
  if redis.call('INCR', KEYS[c0 + i]) == 1 then redis.call('PEXPIRE', KEYS[c0 + i], ARGV[a + 2 * i]) end
end
for k = nr + 1, c0 do
  redis.call('SET', KEYS[k], '1', 'PX', ARGV[5 + k])
end
a = 5 + c0 + 2 * nc
for i = 1, nk do
  redis.call('SET', KEYS[c0 + nc + i], '1', 'PX', ARGV[a + i])
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

/** KEYS: credentials; ARGV: the ttl (ms) of each. */
export const REVOKE_CREDENTIALS = script(`
for i = 1, #KEYS do
  local key, ttl = KEYS[i], ARGV[i]
  ${REVOKE_CREDENTIAL_BODY}
end
return 0
`);
