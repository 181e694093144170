/**
 * The Lua scripts behind the Redis store. Each runs atomically on the server, so one script is
 * one round trip and no other client sees a half-applied reservation. Semantics mirror the
 * memory store, which is the reference.
 *
 * Values: a revocation key holds the time (ms since the epoch) at or before which tokens are
 * revoked; a counter holds its count; a once-marker holds 1; a credential holds 1 live, 2 spent,
 * 3 revoked. Every key is written with an expiry, so nothing outlives the tokens it serves.
 *
 * Anything else under one of these names (another type, or a value of another shape) is never
 * read as "absent": the script answers "unexpected entry" and the store fails closed. MGET reads
 * a key of another type as nil, so keys MGET finds absent are counted with one EXISTS (one per
 * script call in `RESERVE`, however many reservations it carries).
 */
import { createHash } from 'node:crypto';

export interface Script {
  readonly source: string;
  readonly sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });

/** Outcome codes of a reservation, per reservation: `{code, index into its keys}`. */
export const OUTCOME = Object.freeze({ ok: 0, revoked: 1, limit: 2, replay: 3, wrongType: 4, wrongValue: 5 });

// A spent credential stays spent; a live one becomes revoked; an unknown one is kept revoked
// for its ttl; an entry of another type or value is replaced by "revoked". One call in the
// common case (a live credential).
const REVOKE_CREDENTIAL = `
local function revokeCredential(key, ttl)
  local old = redis.pcall('SET', key, '3', 'KEEPTTL', 'GET')
  if type(old) == 'table' then
    redis.call('SET', key, '3', 'PX', ttl)
  elseif not old then
    redis.call('PEXPIRE', key, ttl)
  elseif old == '2' then
    redis.call('SET', key, '2', 'KEEPTTL')
  elseif old ~= '1' and old ~= '3' then
    redis.call('SET', key, '3', 'PX', ttl)
  end
end
`;

/**
 * Checks one reservation without writing. KEYS from k+1: nr revocations, no markers, nc
 * counters; ARGV from a+1: nr issue times (ms), no ttls, nc (limit, ttl) pairs.
 * Returns code, index (1-based into the reservation's keys) and the values read.
 * All checks come before any write, because Redis does not roll a script back.
 */
const CHECK = `
local function check(k, a, nr, no, nc)
  local nread = nr + no + nc
  if nread == 0 then return 0, 0, {} end
  local vals = redis.call('MGET', unpack(KEYS, k + 1, k + nread))
  local absent, m = {}, 0
  for i = 1, nread do
    if not vals[i] then
      m = m + 1
      absent[m] = KEYS[k + i]
    end
  end
  if m > 0 and redis.call('EXISTS', unpack(absent)) > 0 then
    for i = 1, nread do
      if not vals[i] and redis.call('EXISTS', KEYS[k + i]) == 1 then return 4, i, vals end
    end
  end
  for i = 1, nr do
    local v = vals[i]
    if v then
      if not string.find(v, '^%d+$') then return 5, i, vals end
      if tonumber(v) >= tonumber(ARGV[a + i]) then return 1, i, vals end
    end
  end
  for i = nr + 1, nr + no do
    local v = vals[i]
    if v then
      if v ~= '1' then return 5, i, vals end
      return 3, i, vals
    end
  end
  local c = a + nr + no
  for i = 1, nc do
    local v = vals[nr + no + i]
    if v then
      if not string.find(v, '^%d+$') then return 5, nr + no + i, vals end
      if tonumber(v) + 1 > tonumber(ARGV[c + 2 * i - 1]) then return 2, nr + no + i, vals end
    elseif 1 > tonumber(ARGV[c + 2 * i - 1]) then
      return 2, nr + no + i, vals
    end
  end
  return 0, 0, vals
end
`;

/**
 * Many reservations in one script call, each checked and applied on its own (atomic per
 * reservation; a later one sees the earlier ones' writes).
 * ARGV[1] reservations, ARGV[2] credentials to revoke first, ARGV[3] keys read in all, then one
 * ttl per credential to revoke. KEYS: the credentials to revoke, then every key the batch reads
 * (per reservation, as `check` reads them), then every credential to register. Per reservation,
 * ARGV: nr, no, nc, nk, then as `check` reads them, then nk credential ttls.
 * Credentials whose calls have ended ride along, so that revoking them costs no round trip of
 * its own; they are revoked whatever the reservations' outcomes.
 * Returns {code, index} per reservation, flattened.
 *
 * Every key the batch reads is read once, up front: one MGET, and, when some of them read as
 * absent, one EXISTS over all of them; as many keys existing as strings were read means no key
 * of another type hides among the absent ones. Each redis.call costs far more than the Lua
 * around it, so the batch pays two reads instead of two per reservation. A later reservation
 * sees an earlier one's counts through `now` and its markers through `marked`; nothing else
 * writes in between. Each counter is written once at the end, with the batch's total: calls on
 * one capability in the same batch cost one write, not one each. No reservation can see the
 * counters before that write, because the script is atomic.
 */
export const RESERVE = script(`${REVOKE_CREDENTIAL}
local n, nx, nread = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, nx do revokeCredential(KEYS[i], ARGV[3 + i]) end
local vals, wrong = {}, nil
if nread > 0 then
  local strings = 0
  -- unpack has a stack limit: read in slices.
  for s = 1, nread, 1000 do
    local e = math.min(nread, s + 999)
    local part = redis.call('MGET', unpack(KEYS, nx + s, nx + e))
    for i = s, e do
      local v = part[i - s + 1]
      vals[i] = v
      if v then strings = strings + 1 end
    end
  end
  if strings < nread then
    local found = 0
    for s = 1, nread, 1000 do found = found + redis.call('EXISTS', unpack(KEYS, nx + s, nx + math.min(nread, s + 999))) end
    if found > strings then
      wrong = {}
      for i = 1, nread do
        if not vals[i] and redis.call('EXISTS', KEYS[nx + i]) == 1 then wrong[i] = true end
      end
    end
  end
end
-- Counters are written once, after every reservation: the batch's count for each, in one write.
local now, base, created, touched, nt = {}, {}, {}, {}, 0
local marked, out = {}, {}
local r, w, a = nx, nx + nread, 3 + nx
for j = 1, n do
  local nr, no, nc, nk = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  a = a + 4
  local b = r - nx
  local code, at = 0, 0
  if wrong then
    for i = 1, nr + no + nc do
      if wrong[b + i] then
        code, at = 4, i
        break
      end
    end
  end
  if code == 0 then
    for i = 1, nr do
      local v = vals[b + i]
      if v then
        if not string.find(v, '^%d+$') then code, at = 5, i break end
        if tonumber(v) >= tonumber(ARGV[a + i]) then code, at = 1, i break end
      end
    end
  end
  if code == 0 then
    for i = nr + 1, nr + no do
      local v = marked[KEYS[r + i]]
      if v == nil then v = vals[b + i] end
      if v then
        if v ~= '1' then code, at = 5, i break end
        code, at = 3, i
        break
      end
    end
  end
  local c = a + nr + no
  if code == 0 then
    for i = nr + no + 1, nr + no + nc do
      local v = now[KEYS[r + i]]
      if v == nil then
        v = vals[b + i]
        if v and not string.find(v, '^%d+$') then code, at = 5, i break end
      end
      if (v and tonumber(v) or 0) + 1 > tonumber(ARGV[c + 2 * (i - nr - no) - 1]) then code, at = 2, i break end
    end
  end
  out[2 * j - 1] = code
  out[2 * j] = at
  if code == 0 then
    for i = nr + no + 1, nr + no + nc do
      local key = KEYS[r + i]
      local v = now[key]
      if v == nil then
        local old = vals[b + i]
        nt = nt + 1
        touched[nt] = key
        if old then v = tonumber(old) else v, created[key] = 0, ARGV[c + 2 * (i - nr - no)] end
        base[key] = v
      end
      now[key] = v + 1
    end
    for i = nr + 1, nr + no do
      local key = KEYS[r + i]
      redis.call('SET', key, '1', 'PX', ARGV[a + i])
      marked[key] = '1'
    end
    c = c + 2 * nc
    for i = 1, nk do
      redis.call('SET', KEYS[w + i], '1', 'PX', ARGV[c + i])
    end
  end
  r = r + nr + no + nc
  w = w + nk
  a = a + nr + no + 2 * nc + nk
end
for t = 1, nt do
  local key = touched[t]
  if created[key] then
    redis.call('SET', key, now[key], 'PX', created[key])
  else
    redis.call('INCRBY', key, now[key] - base[key])
  end
end
return out
`);

/** One reservation, read only: ARGV nr, no, nc, then as `check` reads them. Returns {code, index}. */
export const PEEK = script(`${CHECK}
local code, at = check(0, 3, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
return {code, at}
`);

/**
 * KEYS[1] revocation key; ARGV[1] time (ms), ARGV[2] ttl (ms).
 * Keeps the later of the stored and the given time, and the longer of the two expiries, so a
 * revocation can only ever widen. The time is stored as given (it is a safe integer, which a Lua
 * number holds exactly). Returns 1 written, 0 kept, 4 wrong type, 5 wrong value.
 */
export const REVOKE = script(`
local cur = redis.pcall('GET', KEYS[1])
if type(cur) == 'table' then return 4 end
local ttl = tonumber(ARGV[2])
if cur then
  if not string.find(cur, '^%d+$') then return 5 end
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

/** KEYS[1] marker; ARGV[1] ttl (ms). Returns 1 set now, 0 already set, 4 wrong type, 5 wrong value. */
export const CONSUME_ONCE = script(`
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'table' then return 4 end
if v then
  if v ~= '1' then return 5 end
  return 0
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 1
`);

/** KEYS[1] credential. Returns 1 ok (was live, now spent), 2 spent, 3 revoked, 0 unknown, 4 wrong type, 5 wrong value. */
export const CONSUME_CREDENTIAL = script(`
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'table' then return 4 end
if not v then return 0 end
if v == '1' then
  redis.call('SET', KEYS[1], '2', 'KEEPTTL')
  return 1
end
if v == '2' then return 2 end
if v == '3' then return 3 end
return 5
`);

/** KEYS: credentials; ARGV: the ttl (ms) of each. */
export const REVOKE_CREDENTIALS = script(`${REVOKE_CREDENTIAL}
for i = 1, #KEYS do revokeCredential(KEYS[i], ARGV[i]) end
return 0
`);

/**
 * KEYS: cumulative counters; ARGV: amount, limit, ttl (ms) of each. All or nothing: refused when
 * any total plus its amount would pass its limit. Returns {0, 0, 0} added; {2, index, total}
 * refused; {4, index, 0} wrong type; {5, index, 0} wrong value (index 0-based).
 */
export const ADD_WITHIN = script(`
for i = 1, #KEYS do
  local v = redis.pcall('GET', KEYS[i])
  if type(v) == 'table' then return {4, i - 1, 0} end
  local total = 0
  if v then
    if not string.find(v, '^%d+$') then return {5, i - 1, 0} end
    total = tonumber(v)
  end
  if total + tonumber(ARGV[3 * i - 2]) > tonumber(ARGV[3 * i - 1]) then return {2, i - 1, total} end
end
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[3 * i - 2])
  local ttl = tonumber(ARGV[3 * i])
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl > ttl then ttl = pttl end
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return {0, 0, 0}
`);
