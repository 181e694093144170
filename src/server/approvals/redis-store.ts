/**
 * Approvals on Redis, so that several service processes serve one inbox. Each operation is one
 * Lua script (atomic on the server): the first decision wins across every process. Keys expire
 * `APPROVAL_RETENTION_MS` after the request's deadline. Waiting for a decision polls, because a
 * subscription would need a second connection the caller may not want to give us.
 */
import { createHash } from 'node:crypto';
import { ApprovalsStoreError } from '../../errors.js';
import { absorbClientErrors, isRedisClient, scriptRunner, type RedisClientLike } from '../../store/redis-client.js';
import { withDeadline } from '../../util/deadline.js';
import { systemClock, type Clock } from '../../util/time.js';
import { APPROVAL_RETENTION_MS, MAX_LISTED, type ApprovalDecision, type ApprovalRecord, type ApprovalsStore, type StoredApproval } from './store.js';

export interface RedisApprovalsStoreOptions {
  /** A connected ioredis or node-redis client; the caller owns it. */
  client: RedisClientLike;
  /** Prepended to every key; default `"tessera:approvals:"`. On a cluster use a hash tag, e.g. `"{tessera-approvals}:"`. */
  prefix?: string;
  /** Deadline for each Redis operation, ms; default 1,000. */
  timeoutMs?: number;
  /** How often `waitFor` looks for a decision, ms; default 250. */
  pollMs?: number;
  clock?: Clock;
  /** Told about each client error and failed operation (never the reason a caller sees). */
  onError?: (err: unknown) => void;
}

export { ApprovalsStoreError };

const script = (source: string): { source: string; sha: string } => ({ source, sha: createHash('sha1').update(source).digest('hex') });

const PUT = script(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
return 1`);

const GET = script(`return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}`);

const DECIDE = script(`
local req = redis.call('GET', KEYS[1])
if not req then return {'unknown'} end
local existing = redis.call('GET', KEYS[2])
if existing then return {'decided', existing} end
local deadline = tonumber(cjson.decode(req)['deadline'])
if tonumber(ARGV[2]) > deadline then return {'expired'} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then ttl = 60000 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
redis.call('ZREM', KEYS[3], ARGV[3])
return {'ok'}`);

// Keys of listed requests are derived from the prefix: with a hash-tagged prefix they share
// the pending set's slot.
const LIST = script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local req = redis.call('GET', ARGV[3] .. 'req:' .. id)
  if req and redis.call('EXISTS', ARGV[3] .. 'dec:' .. id) == 0 then table.insert(out, req) end
end
return out`);

export function createRedisApprovalsStore(options: RedisApprovalsStoreOptions): ApprovalsStore {
  if (options === null || typeof options !== 'object') throw new TypeError('createRedisApprovalsStore needs an options object');
  if (!isRedisClient(options.client)) throw new TypeError('createRedisApprovalsStore options.client must be an ioredis or node-redis client');
  const prefix = options.prefix ?? 'tessera:approvals:';
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 128) throw new TypeError('createRedisApprovalsStore options.prefix must be a string of 1 to 128 characters');
  const timeoutMs = options.timeoutMs ?? 1_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) throw new RangeError('createRedisApprovalsStore options.timeoutMs must be an integer from 1 to 60000');
  const pollMs = options.pollMs ?? 250;
  if (!Number.isInteger(pollMs) || pollMs < 10 || pollMs > 10_000) throw new RangeError('createRedisApprovalsStore options.pollMs must be an integer from 10 to 10000');
  if (options.clock !== undefined && typeof options.clock !== 'function') throw new TypeError('createRedisApprovalsStore options.clock must be a function');
  const clock = options.clock ?? systemClock;
  const report = (err: unknown): void => {
    try {
      options.onError?.(err);
    } catch {
      // A failing hook must not turn an outage into a crash.
    }
  };
  const detach = absorbClientErrors(options.client, report);
  const runner = scriptRunner(options.client);
  const pendingKey = `${prefix}pending`;
  const reqKey = (id: string): string => `${prefix}req:${id}`;
  const decKey = (id: string): string => `${prefix}dec:${id}`;

  const run = async (s: { source: string; sha: string }, keys: string[], args: string[]): Promise<unknown> => {
    try {
      return await withDeadline(runner(s.sha, s.source, keys, args), timeoutMs, 'the approvals store');
    } catch (err) {
      report(err);
      throw new ApprovalsStoreError(`the approvals store (Redis) did not answer within ${timeoutMs} ms or failed; nothing was recorded`);
    }
  };
  const parse = <T>(raw: unknown): T => {
    if (typeof raw !== 'string') throw new ApprovalsStoreError('the approvals store (Redis) answered in a shape the store does not know');
    try {
      return JSON.parse(raw) as T;
    } catch {
      throw new ApprovalsStoreError('the approvals store (Redis) holds an entry that is not JSON');
    }
  };
  const get = async (id: string): Promise<StoredApproval | undefined> => {
    const reply = await run(GET, [reqKey(id), decKey(id)], []);
    if (!Array.isArray(reply)) throw new ApprovalsStoreError('the approvals store (Redis) answered in a shape the store does not know');
    const [req, dec] = reply as unknown[];
    if (req === null || req === undefined) return undefined;
    const request = parse<ApprovalRecord>(req);
    return dec === null || dec === undefined ? { request } : { request, decision: parse<ApprovalDecision>(dec) };
  };

  return {
    async put(request) {
      const ttl = Math.max(1, request.deadline + APPROVAL_RETENTION_MS - clock());
      const ok = await run(PUT, [reqKey(request.id), pendingKey], [JSON.stringify(request), request.id, String(request.deadline), String(ttl)]);
      if (ok !== 1) throw new RangeError('an approval request with this id already exists');
    },
    get,
    async listPending(now) {
      const reply = await run(LIST, [pendingKey], [String(now), String(MAX_LISTED), prefix]);
      if (!Array.isArray(reply)) throw new ApprovalsStoreError('the approvals store (Redis) answered in a shape the store does not know');
      return reply.map((r) => parse<ApprovalRecord>(r)).sort((a, b) => a.createdAt - b.createdAt);
    },
    async decide(id, decision) {
      const reply = await run(DECIDE, [reqKey(id), decKey(id), pendingKey], [JSON.stringify(decision), String(decision.decidedAt), id]);
      const [what, existing] = Array.isArray(reply) ? (reply as unknown[]) : [];
      if (what === 'ok') return { ok: true, decision };
      if (what === 'unknown') return { ok: false, why: 'unknown' };
      if (what === 'expired') return { ok: false, why: 'expired' };
      if (what === 'decided') return { ok: false, why: 'decided', decision: parse<ApprovalDecision>(existing) };
      throw new ApprovalsStoreError('the approvals store (Redis) answered in a shape the store does not know');
    },
    async waitFor(id, deadline, signal) {
      for (;;) {
        const current = await get(id);
        if (current === undefined || current.decision !== undefined || signal?.aborted === true) return current;
        const left = deadline - clock();
        if (left <= 0) return current;
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            resolve();
          };
          const timer = setTimeout(done, Math.min(pollMs, left));
          signal?.addEventListener('abort', done, { once: true });
        });
      }
    },
    close() {
      detach();
    },
  };
}
