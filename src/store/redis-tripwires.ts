/**
 * Tripwire state on Redis. Each operation is one Lua script on ONE key, so one hash slot on Redis
 * Cluster: an agent's count under `trip:{<agent>}:<name>` (a list of its latest event times), a
 * stop under its revocation key, every quarantine record in the hash `trip:quarantines` (one field
 * per agent, `<expiry ms>|<record JSON>`). Every key is written with an expiry. A key of another
 * type is never read as absent: the script answers 4 and the operation rejects.
 */
import { createHash } from 'node:crypto';
import { RedisStoreError } from '../errors.js';
import type { RedisLayout } from './redis-layout.js';
import type { Script } from './redis-scripts.js';
import type { TripwireState } from './tripwire-state.js';

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });

/** KEYS[1] list; ARGV now, limit, window. Returns how many kept events lie within the window, or -4. */
const COUNT_EVENT = script(`
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'list' then return -4 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local from = tonumber(ARGV[1]) - tonumber(ARGV[3])
local n = 0
for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local x = tonumber(v)
  if x and x > from then n = n + 1 end
end
return n
`);

/** KEYS[1] revocation key; ARGV time, ttl. As the store's REVOKE, and answers {code, time held before}. */
const STOP = script(`
local cur = redis.pcall('GET', KEYS[1])
if type(cur) == 'table' then return {4, '0'} end
local ttl = tonumber(ARGV[2])
local before = '0'
if cur then
  if not string.find(cur, '^%d+$') then return {5, '0'} end
  before = cur
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl > ttl then ttl = pttl end
  if tonumber(cur) >= tonumber(ARGV[1]) then
    redis.call('PEXPIRE', KEYS[1], ttl)
    return {0, before}
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return {1, before}
`);

/** KEYS[1] revocation key; ARGV stopped time, previous time ('0': none). 1 lifted, 0 kept, 2 absent, 4 wrong type. */
const RESTORE = script(`
local cur = redis.pcall('GET', KEYS[1])
if type(cur) == 'table' then return 4 end
if not cur then return 2 end
if cur ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end
return 1
`);

/** KEYS[1] records hash; ARGV agent. The raw record (without its expiry prefix) or false; -4 wrong type. */
const RECORD = script(`
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'hash' then return -4 end
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
return v
`);

/**
 * KEYS[1] records hash; ARGV agent, expected ('' none), value, now, max records, ttl.
 * 1 written, 0 changed, 2 full, -4 wrong type. A new record first prunes expired ones.
 */
const PUT_RECORD = script(`
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'hash' then return -4 end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (cur or '') ~= ARGV[2] then return 0 end
if not cur then
  local now, n = tonumber(ARGV[4]), 0
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local exp = tonumber(string.match(all[i + 1], '^(%d+)|'))
    if not exp or exp <= now then redis.call('HDEL', KEYS[1], all[i]) else n = n + 1 end
  end
  if n >= tonumber(ARGV[5]) then return 2 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[6]) then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
return 1
`);

/** KEYS[1] records hash. Every value, or -4. */
const RECORDS = script(`
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'hash' then return -4 end
return redis.call('HVALS', KEYS[1])
`);

const ms = (n: number): string => String(Math.max(1, Math.ceil(n)));
const stamp = (n: number): string => {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('tripwire times must be non-negative safe integers (ms since the epoch)');
  return String(n);
};

/** Runs one script within the store's deadline; the Redis store hands its own runner in. */
export type TripwireScriptRunner = (script: Script, keys: string[], args: string[]) => Promise<unknown>;

const RECORDS_KEY = 'trip:quarantines';

/** Strips the `<expiry>|` prefix a stored record carries for the server's pruning. */
const unstamp = (v: unknown): string | undefined => {
  if (typeof v !== 'string') return undefined;
  const bar = v.indexOf('|');
  return bar < 0 ? undefined : v.slice(bar + 1);
};

export function createRedisTripwireState(run: TripwireScriptRunner, layout: RedisLayout): TripwireState {
  const wrongType = (key: string): RedisStoreError =>
    new RedisStoreError(`Redis store unexpected entry: a key of another type under the tripwire key ${JSON.stringify(key)}; tripwires fail until it is removed`);
  const unexpected = (): RedisStoreError => new RedisStoreError('Redis store unexpected reply: the tripwire script answered in a shape the store does not know');
  const int = (reply: unknown): number => {
    const n = typeof reply === 'number' ? reply : typeof reply === 'string' ? Number(reply) : Number.NaN;
    if (!Number.isInteger(n)) throw unexpected();
    return n;
  };
  const recordsKey = layout.home(RECORDS_KEY);
  // What `record` answered, with its stamp, per agent: `putRecord` compares against the stored value.
  const stored = new Map<string, string>();
  const remember = (agent: string, full: string | undefined): string | undefined => {
    if (full === undefined) stored.delete(agent);
    else {
      if (stored.size > 1000) stored.clear();
      stored.set(agent, full);
    }
    return unstamp(full);
  };

  return {
    async countEvent(key, limit, windowMs, nowMs) {
      const n = int(await run(COUNT_EVENT, [layout.home(key)], [stamp(Math.floor(nowMs)), String(Math.max(1, Math.floor(limit))), ms(windowMs)]));
      if (n === -4) throw wrongType(key);
      return n;
    },
    // An agent or intent stop is written to its copy in every shard (as the store's own revocations
    // are), and resolves only once every copy is written; the copy in shard 0 answers for the key.
    async stop(key, atMs, ttlMs) {
      const args = [stamp(atMs), ms(ttlMs)];
      const replies = await Promise.all(layout.copies(key).map((k) => run(STOP, [k], args)));
      let before: number | undefined;
      for (const reply of replies) {
        if (!Array.isArray(reply) || reply.length !== 2) throw unexpected();
        const code = int(reply[0]);
        if (code === 4 || code === 5) throw wrongType(key);
        before ??= int(reply[1]);
      }
      if (before === undefined) throw unexpected();
      return before;
    },
    async restore(key, stoppedAtMs, previousMs) {
      const args = [stamp(stoppedAtMs), stamp(previousMs)];
      const codes = (await Promise.all(layout.copies(key).map((k) => run(RESTORE, [k], args)))).map(int);
      if (codes.includes(4)) throw wrongType(key);
      const code = codes[0];
      return code === 1 ? 'lifted' : code === 0 ? 'kept' : 'absent';
    },
    async record(agent) {
      const reply = await run(RECORD, [recordsKey], [agent]);
      if (reply === -4) throw wrongType(RECORDS_KEY);
      return remember(agent, typeof reply === 'string' ? reply : undefined);
    },
    async putRecord(agent, expected, raw, expiresAtMs, maxRecords, nowMs, ttlMs) {
      const full = `${stamp(Math.ceil(expiresAtMs))}|${raw}`;
      const previous = expected === undefined ? '' : stored.get(agent);
      if (previous === undefined || (expected !== undefined && unstamp(previous) !== expected)) return 'changed';
      const code = int(await run(PUT_RECORD, [recordsKey], [agent, previous, full, stamp(Math.floor(nowMs)), String(maxRecords), ms(ttlMs)]));
      if (code === -4) throw wrongType(RECORDS_KEY);
      if (code === 1) remember(agent, full);
      return code === 1 ? 'written' : code === 2 ? 'full' : 'changed';
    },
    async records() {
      const reply = await run(RECORDS, [recordsKey], []);
      if (reply === -4) throw wrongType(RECORDS_KEY);
      if (!Array.isArray(reply)) throw unexpected();
      return reply.map(unstamp).filter((v): v is string => v !== undefined);
    },
  };
}
