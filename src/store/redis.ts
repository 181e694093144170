/**
 * `tessera-guard/redis`: the guard store on Redis, for many processes that must agree on single use,
 * call limits and revocation.
 *
 * One guarded call costs one round trip: `reserve` is one Lua script (EVALSHA, with EVAL when the
 * server lost its script cache), atomic on the server. The reservations issued in one event-loop
 * turn travel in script calls of up to 32, each checked and applied on its own. Every key carries an
 * expiry tied to the token it serves. Every operation is bounded by `timeoutMs`, including the
 * wait for a client that is still connecting; an error, a timeout or a lost connection rejects
 * with `RedisStoreError` (`store_unavailable`), whose reason names the failure class, which the
 * guard turns into a denial. The client reconnects on its own; calls succeed again as soon as
 * Redis answers.
 *
 * Keys are laid out for Redis Cluster (`redis-layout.ts`, `shards.ts`): everything one call reserves shares
 * one hash slot, chosen by its root capability id; agent and intent revocations are written to
 * every shard. A cluster client (ioredis `Cluster`, node-redis `createCluster`) routes each
 * script to the node serving its slot.
 */
import { z } from 'zod';
import { RedisStoreError } from '../errors.js';
import { functionOption } from '../util/option-schemas.js';
import { parseOptions } from '../util/options.js';
import {
  absorbClientErrors,
  clientReadiness,
  clusterPipelineRunners,
  isClusterClient,
  isRedisClient,
  scriptRunner,
  scriptSender,
  type RedisClientLike,
  type ScriptRunner,
} from './redis-client.js';
import { redisLayout, type RedisLayout } from './redis-layout.js';
import { isReplicated, shardOf } from './shards.js';
import { ADD_WITHIN, CONSUME_CREDENTIAL, CONSUME_ONCE, OUTCOME, PEEK, RESERVE, REVOKE, REVOKE_CREDENTIALS, type Script } from './redis-scripts.js';
import type { AdditionResult, CallReservation, CounterAddition, CredentialState, ReservationResult, TesseraStore } from './types.js';
import { createRedisTripwireState } from './redis-tripwires.js';
import type { TripwireState } from './tripwire-state.js';

// The error class lives with every other error class; re-exported so that existing imports work.
export { RedisStoreError };

export type { IoredisLike, NodeRedisLike, RedisClientLike } from './redis-client.js';

export interface RedisStoreOptions {
  /**
   * A connected `ioredis` client (or Cluster) or `redis` (node-redis) client (or cluster). The
   * caller owns it: `close()` on the store does not disconnect it. Create it with the offline
   * queue off (`enableOfflineQueue: false` in ioredis, `disableOfflineQueue: true` in node-redis)
   * so that a command refused during an outage is not replayed later.
   */
  client: RedisClientLike;
  /**
   * Prepended to every key; default `"tessera:"`. It may not contain `{` or `}`: the store puts a
   * hash tag after it that spreads keys over Redis Cluster's slots (see docs/redis.md).
   */
  prefix?: string;
  /**
   * Deadline for each operation, ms; default 250. Past it the call is denied. A client that is
   * still connecting (just created, or reconnecting) is waited for within this deadline.
   */
  timeoutMs?: number;
  /**
   * Called with each client error (a lost connection, a refused command) and each failed
   * operation. Raw errors never reach the call's denial, whose reason names only the failure
   * class, because a client message may quote a server URL.
   */
  onError?: (err: unknown) => void;
  /**
   * Wait for Redis to confirm each credential revocation before the guarded call returns;
   * default false. By default a revocation is queued and sent with the next operation of this
   * store, or on its own at the end of the current event-loop turn, whichever comes first: it
   * costs no round trip of its own, and it always reaches Redis before any later operation of
   * this store. Waiting costs a second round trip per call and changes only what a failed
   * revocation reports (the guard never lets a revocation failure change a call's outcome, and
   * the credential expires within seconds anyway). Without waiting, a failure goes to `onError`.
   */
  awaitCredentialRevocation?: boolean;
}

export interface RedisStore extends TesseraStore {
  readonly prefix: string;
  reserve(reservation: CallReservation): Promise<ReservationResult>;
  peek(reservation: CallReservation): Promise<ReservationResult>;
  revoke(key: string, atMs: number, ttlMs: number): Promise<void>;
  consumeOnce(key: string, ttlMs: number): Promise<boolean>;
  consumeCredential(id: string): Promise<CredentialState>;
  revokeCredential(id: string, ttlMs: number): Promise<void> | void;
  addWithin(additions: readonly CounterAddition[]): Promise<AdditionResult>;
  /** Stops listening to the client; later operations reject. The client stays connected. */
  close(): void;
  /** Tripwire counts, stops and quarantine records, each operation on one key (see src/store/redis-tripwires.ts). */
  readonly tripwires: TripwireState;
}

const optionsSchema = z.strictObject({
  client: z.custom<RedisClientLike>(isRedisClient, {
    message: 'must be an ioredis or node-redis client (with evalsha/evalSha and eval)',
  }),
  prefix: z
    .string()
    .min(1)
    .max(128)
    .refine((p) => !/[{}]/.test(p), { message: 'must not contain "{" or "}": the store adds its own hash tag after the prefix' })
    .default('tessera:'),
  timeoutMs: z.number().int().positive().max(60_000).default(250),
  onError: functionOption<(err: unknown) => void>().optional(),
  awaitCredentialRevocation: z.boolean().default(false),
});

// Credential revocations waiting for Redis during an outage; beyond this they are dropped (the
// credentials still expire on their own within seconds).
const MAX_PENDING_REVOCATIONS = 10_000;
// Reservations per script call, and calls resumed per turn by answers that arrive together.
// With many calls in flight they form groups: one group's script runs on the server while the
// process works on another's calls, instead of the process sitting idle while one batch that
// holds every call is on the server. Small enough for that, large enough that the script's fixed
// cost and its reads are shared.
const MAX_BATCH = 32;

const ms = (ttlMs: number): string => String(Math.max(1, Math.ceil(ttlMs)));

const ENTRY_KIND = ['revocation', 'marker', 'counter'] as const;

/** The class of a failed command, in words that never quote the client's message. */
function failureReason(err: unknown, readiness: string | undefined): string {
  if (err instanceof RedisStoreError) return err.reason;
  const name = err instanceof Error ? err.name : '';
  // A server reply starts with its error code (WRONGTYPE, OOM, NOPERM, BUSY, ...): the code alone is safe to name.
  if (name === 'ReplyError' || name === 'ErrorReply') {
    const code = err instanceof Error ? /^([A-Z][A-Z_]{1,30})\b/.exec(err.message)?.[1] : undefined;
    return `Redis script error${code === undefined ? '' : ` (${code})`}: the server refused the store's script; calls are denied until it accepts it`;
  }
  if (readiness !== undefined) return `Redis connection lost (${readiness}); calls are denied until it reconnects`;
  return 'Redis connection lost (the client failed to send or receive); calls are denied until it answers';
}

type Pending = {
  readonly r: CallReservation;
  /** The shard whose copies of agent and intent revocations this reservation reads. */
  readonly shard: number;
  readonly resolve: (result: ReservationResult) => void;
  readonly reject: (err: unknown) => void;
};

/** The shard a reservation reads agent and intent revocations from: its first key's. */
function reservationShard(r: CallReservation): number {
  for (const c of r.revocations) if (!isReplicated(c.key)) return shardOf(c.key);
  if (r.once.length > 0) return shardOf(r.once[0]!.key);
  if (r.counters.length > 0) return shardOf(r.counters[0]!.key);
  if (r.credentials.length > 0) return shardOf(`cred:${r.credentials[0]!.id}`);
  // Only agent and intent revocations, which every shard holds: any copy answers.
  return 0;
}

type ShardGroup = { keys: string[]; ttls: string[]; shards: number[] };

function byShard(keys: readonly string[], ttls: readonly string[], shards: readonly number[]): Map<number, ShardGroup> {
  const groups = new Map<number, ShardGroup>();
  for (let i = 0; i < keys.length; i++) {
    const shard = shards[i]!;
    let g = groups.get(shard);
    if (g === undefined) groups.set(shard, (g = { keys: [], ttls: [], shards: [] }));
    g.keys.push(keys[i]!);
    g.ttls.push(ttls[i]!);
    g.shards.push(shard);
  }
  return groups;
}

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const { client, prefix, timeoutMs, awaitCredentialRevocation } = parseOptions(optionsSchema, options, 'createRedisStore options');
  const onError = options.onError;
  const layout = redisLayout(prefix);
  // On an ioredis Cluster, a turn's scripts for one node leave in one write (see redis-client.ts).
  const pipelined = clusterPipelineRunners(client, layout.slot);
  const cached = pipelined?.cached ?? scriptRunner(client);
  const whole = pipelined?.whole ?? scriptSender(client);
  const readiness = clientReadiness(client);
  // A cluster refuses a script whose keys span slots: there, reservations of different shards
  // travel in separate scripts. A single server takes any mix, so one script carries them all.
  const cluster = isClusterClient(client);
  const report = (err: unknown): void => {
    try {
      onError?.(err);
    } catch {
      // A failing error hook must not turn a Redis outage into a crash.
    }
  };
  const detach = absorbClientErrors(client, report);
  let closed = false;
  // Credentials whose calls have ended, not yet sent: keys, ttls and shards.
  let pendingKeys: string[] = [];
  let pendingTtls: string[] = [];
  let pendingShards: number[] = [];
  // One setImmediate per event-loop turn, for whatever waits for the end of the turn.
  let endScheduled = false;
  // Reservations issued in this event-loop turn, not yet sent.
  let batch: Pending[] = [];
  let batchScheduled = false;
  // Calls resumed by answers in this turn; answers past MAX_BATCH calls wait for a later turn.
  let resumedThisTurn = 0;
  const deferred: Array<{ readonly calls: number; readonly answer: () => void }> = [];
  const timeoutReason = `Redis store timeout: no answer within ${timeoutMs} ms; calls are denied until it answers`;
  const unexpectedReply = (): RedisStoreError => new RedisStoreError('Redis store unexpected reply: the script answered in a shape the store does not know; calls are denied');

  const run = (script: Script, keys: string[], args: string[], runScript: ScriptRunner = cached): Promise<unknown> => {
    if (closed) return Promise.reject(new RedisStoreError('Redis store closed: close() was called on this store'));
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: RedisStoreError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
      };
      const timer = setTimeout(() => {
        const state = readiness.state();
        const err = new RedisStoreError(
          state === undefined ? timeoutReason : `Redis client not ready (${state}) within ${timeoutMs} ms; calls are denied until it connects`,
        );
        report(err);
        fail(err);
      }, timeoutMs);
      const send = (): void => {
        if (settled) return;
        runScript(script.sha, script.source, keys, args).then(
          (reply) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(reply);
          },
          (err: unknown) => {
            report(err);
            fail(new RedisStoreError(failureReason(err, readiness.state())));
          },
        );
      };
      const state = readiness.state();
      if (state === undefined) send();
      else if (!readiness.waitable()) fail(new RedisStoreError(`Redis client not ready (${state}); connect it before use; calls are denied until it connects`));
      // A client that is still connecting is waited for, within the same deadline.
      else readiness.ready().then(send, () => undefined);
    });
  };

  // Whole script (EVAL), never NOSCRIPT: a resent EVALSHA would land behind later commands.
  const flush = (): void => {
    if (pendingKeys.length === 0 || closed) return;
    const keys = pendingKeys;
    const ttls = pendingTtls;
    const shards = pendingShards;
    pendingKeys = [];
    pendingTtls = [];
    pendingShards = [];
    if (!cluster) {
      run(REVOKE_CREDENTIALS, keys, ttls, whole).catch(report);
      return;
    }
    for (const g of byShard(keys, ttls, shards).values()) run(REVOKE_CREDENTIALS, g.keys, g.ttls, whole).catch(report);
  };

  const asInt = (reply: unknown): number => {
    const n = typeof reply === 'number' ? reply : typeof reply === 'string' ? Number(reply) : Number.NaN;
    if (!Number.isInteger(n)) throw unexpectedReply();
    return n;
  };

  const unexpectedEntry = (code: number, key: string | undefined, kind: string): RedisStoreError =>
    new RedisStoreError(
      `Redis store unexpected entry: ${code === OUTCOME.wrongType ? 'a key of another type' : 'a value of another shape'} under the ${kind} key ${JSON.stringify(key ?? '')}; calls are denied until it is removed`,
    );

  /** Maps one reservation's {code, index} to its result. */
  const outcomeOf = (r: CallReservation, code: number, at: number): ReservationResult => {
    if (code === OUTCOME.ok) return { ok: true };
    const index = at - 1;
    const nr = r.revocations.length;
    const no = r.once.length;
    const counter = r.counters[index - nr - no];
    if (code === OUTCOME.revoked && index >= 0 && index < nr) return { ok: false, reason: 'revoked', key: r.revocations[index]!.key };
    if (code === OUTCOME.replay && index >= nr && index < nr + no) return { ok: false, reason: 'replay', key: r.once[index - nr]!.key };
    if (code === OUTCOME.limit && counter !== undefined && index >= nr + no) return { ok: false, reason: 'limit', key: counter.key, limit: counter.limit };
    if ((code === OUTCOME.wrongType || code === OUTCOME.wrongValue) && index >= 0) {
      const kind = ENTRY_KIND[index < nr ? 0 : index < nr + no ? 1 : 2];
      const key = index < nr ? r.revocations[index]?.key : index < nr + no ? r.once[index - nr]?.key : counter?.key;
      throw unexpectedEntry(code, key, kind);
    }
    throw unexpectedReply();
  };

  /**
   * Appends the keys and arguments `check` reads (revocations, markers, counters). Agent and
   * intent revocations are read from `shard`'s copy; every other key from its own shard.
   */
  const pushChecks = (r: CallReservation, shard: number, keys: string[], args: string[]): void => {
    for (const c of r.revocations) {
      if (!Number.isSafeInteger(c.issuedAtMs)) throw new RangeError('reserve: revocations[].issuedAtMs must be a safe integer (ms)');
      keys.push(isReplicated(c.key) ? layout.key(shard, c.key) : layout.home(c.key));
      args.push(String(c.issuedAtMs));
    }
    for (const m of r.once) {
      keys.push(layout.home(m.key));
      args.push(ms(m.ttlMs));
    }
    for (const c of r.counters) {
      keys.push(layout.home(c.key));
      args.push(String(c.limit), ms(c.ttlMs));
    }
  };

  const endOfTurn = (): void => {
    endScheduled = false;
    resumedThisTurn = 0;
    flush();
    while (deferred.length > 0 && (resumedThisTurn === 0 || resumedThisTurn + deferred[0]!.calls <= MAX_BATCH)) {
      const next = deferred.shift()!;
      resumedThisTurn += next.calls;
      next.answer();
    }
    if (resumedThisTurn > 0) scheduleEnd();
  };
  const scheduleEnd = (): void => {
    if (endScheduled) return;
    endScheduled = true;
    setImmediate(endOfTurn);
  };
  // The calls resumed in one turn reach their next reservation in that turn and travel in one
  // batch. Answers that reach this process together (one socket read) would resume them all at
  // once and merge every group into one, which then waits for Redis with nothing else to do: at
  // most MAX_BATCH calls resume per turn, and the rest wait for the next. Small answers still
  // merge, so calls that started apart come to share script calls.
  const deliver = (calls: number, answer: () => void): void => {
    scheduleEnd();
    if (deferred.length === 0 && (resumedThisTurn === 0 || resumedThisTurn + calls <= MAX_BATCH)) {
      resumedThisTurn += calls;
      answer();
    } else {
      deferred.push({ calls, answer });
    }
  };

  const sendBatch = (): void => {
    batchScheduled = false;
    if (batch.length === 0) return;
    const sent = batch;
    batch = [];
    const revoking = pendingKeys;
    const revokingTtls = pendingTtls;
    const revokingShards = pendingShards;
    pendingKeys = [];
    pendingTtls = [];
    pendingShards = [];
    if (!cluster) {
      sendGroup(sent, revoking, revokingTtls, revokingShards);
      return;
    }
    const groups = new Map<number, Pending[]>();
    for (const p of sent) {
      const group = groups.get(p.shard);
      if (group === undefined) groups.set(p.shard, [p]);
      else group.push(p);
    }
    // Credential revocations ride with a reservation of their own shard; the rest wait for the
    // end of the turn, where they go one script per shard.
    const riding = byShard(revoking, revokingTtls, revokingShards);
    for (const [shard, group] of groups) {
      const r = riding.get(shard);
      riding.delete(shard);
      sendGroup(group, r?.keys ?? [], r?.ttls ?? [], r?.shards ?? []);
    }
    for (const r of riding.values()) queueRevocations(r.keys, r.ttls, r.shards);
  };

  const queueRevocations = (keys: readonly string[], ttls: readonly string[], shards: readonly number[]): void => {
    if (keys.length === 0) return;
    pendingKeys.push(...keys);
    pendingTtls.push(...ttls);
    pendingShards.push(...shards);
    scheduleEnd();
  };

  /** Reservations (and credential revocations) that may share one script: one call of RESERVE. */
  const sendGroup = (sent: readonly Pending[], revoking: string[], revokingTtls: string[], revokingShards: number[]): void => {
    // Keys: the credentials to revoke, every key the batch reads, every credential to register.
    // A copy: `revoking` is queued again, alone, if the batch fails.
    const keys: string[] = revoking.slice();
    const registering: string[] = [];
    const args: string[] = ['', String(revoking.length), '', ...revokingTtls];
    const included: Pending[] = [];
    for (const p of sent) {
      const r = p.r;
      const kStart = keys.length;
      const aStart = args.length;
      try {
        args.push(String(r.revocations.length), String(r.once.length), String(r.counters.length), String(r.credentials.length));
        pushChecks(r, p.shard, keys, args);
        for (const c of r.credentials) args.push(ms(c.ttlMs));
      } catch (err) {
        keys.length = kStart;
        args.length = aStart;
        p.reject(err);
        continue;
      }
      for (const c of r.credentials) registering.push(layout.home(`cred:${c.id}`));
      included.push(p);
    }
    args[2] = String(keys.length - revoking.length);
    for (const key of registering) keys.push(key);
    args[0] = String(included.length);
    run(RESERVE, keys, args).then(
      (reply) =>
        deliver(included.length, () => {
          if (!Array.isArray(reply) || reply.length !== 2 * included.length) {
            for (const p of included) p.reject(unexpectedReply());
            return;
          }
          for (let j = 0; j < included.length; j++) {
            const p = included[j]!;
            try {
              p.resolve(outcomeOf(p.r, asInt(reply[2 * j]), asInt(reply[2 * j + 1])));
            } catch (err) {
              p.reject(err);
            }
          }
        }),
      (err: unknown) => {
        // The credentials that rode along were not revoked: queue them again (bounded, since an
        // outage would otherwise grow the queue).
        if (revoking.length > 0 && pendingKeys.length < MAX_PENDING_REVOCATIONS) {
          pendingKeys.push(...revoking);
          pendingTtls.push(...revokingTtls);
          pendingShards.push(...revokingShards);
        }
        for (const p of included) p.reject(err);
      },
    );
  };

  /** Sends what is queued, so that an operation issued later reaches Redis after it. */
  const sendQueued = (): void => {
    if (batch.length > 0) sendBatch();
    flush();
  };

  return {
    prefix,

    reserve(r: CallReservation): Promise<ReservationResult> {
      if (closed) return Promise.reject(new RedisStoreError('Redis store closed: close() was called on this store'));
      return new Promise((resolve, reject) => {
        batch.push({ r, shard: reservationShard(r), resolve, reject });
        if (batch.length >= MAX_BATCH) sendBatch();
        else if (!batchScheduled) {
          batchScheduled = true;
          // After the current microtasks: every call that reaches its reservation in this turn
          // joins the same script call, and a lone call waits for nothing.
          process.nextTick(sendBatch);
        }
      });
    },

    async peek(r: CallReservation): Promise<ReservationResult> {
      sendQueued();
      const keys: string[] = [];
      const args: string[] = [String(r.revocations.length), String(r.once.length), String(r.counters.length)];
      pushChecks(r, reservationShard(r), keys, args);
      const reply = await run(PEEK, keys, args);
      if (!Array.isArray(reply) || reply.length !== 2) throw unexpectedReply();
      return outcomeOf(r, asInt(reply[0]), asInt(reply[1]));
    },

    async revoke(key: string, atMs: number, ttlMs: number): Promise<void> {
      if (!Number.isSafeInteger(atMs) || atMs < 0) throw new RangeError('revoke: atMs must be a non-negative safe integer (ms since the epoch)');
      sendQueued();
      // An agent or intent revocation is written to every shard's copy before this resolves, so
      // that every call from now on reads it in its own shard.
      const answers = await Promise.all(layout.copies(key).map((k) => run(REVOKE, [k], [String(atMs), ms(ttlMs)])));
      for (const reply of answers) {
        const answer = asInt(reply);
        if (answer === OUTCOME.wrongType || answer === OUTCOME.wrongValue) throw unexpectedEntry(answer, key, 'revocation');
      }
    },

    async consumeOnce(key: string, ttlMs: number): Promise<boolean> {
      sendQueued();
      const answer = asInt(await run(CONSUME_ONCE, [layout.home(key)], [ms(ttlMs)]));
      if (answer === OUTCOME.wrongType || answer === OUTCOME.wrongValue) throw unexpectedEntry(answer, key, 'marker');
      return answer === 1;
    },

    async consumeCredential(id: string): Promise<CredentialState> {
      sendQueued();
      const state = asInt(await run(CONSUME_CREDENTIAL, [layout.home(`cred:${id}`)], []));
      if (state === 1) return 'ok';
      if (state === 2) return 'spent';
      if (state === 3) return 'revoked';
      if (state === 0) return 'unknown';
      if (state === OUTCOME.wrongType || state === OUTCOME.wrongValue) throw unexpectedEntry(state, `cred:${id}`, 'credential');
      throw unexpectedReply();
    },

    revokeCredential(id: string, ttlMs: number): Promise<void> | void {
      const key = layout.home(`cred:${id}`);
      if (awaitCredentialRevocation) {
        sendQueued();
        return run(REVOKE_CREDENTIALS, [key], [ms(ttlMs)]).then(() => undefined);
      }
      if (closed) {
        report(new RedisStoreError('Redis store closed: close() was called on this store'));
        return;
      }
      pendingKeys.push(key);
      pendingTtls.push(ms(ttlMs));
      pendingShards.push(shardOf(`cred:${id}`));
      scheduleEnd();
    },

    async addWithin(additions: readonly CounterAddition[]): Promise<AdditionResult> {
      sendQueued();
      const { keys, args } = additionArgs(layout, additions);
      const reply = await run(ADD_WITHIN, keys, args);
      if (!Array.isArray(reply) || reply.length !== 3) throw unexpectedReply();
      const [code, index, total] = [asInt(reply[0]), asInt(reply[1]), asInt(reply[2])];
      if (code === OUTCOME.ok) return { ok: true };
      const addition = additions[index];
      if (addition === undefined) throw unexpectedReply();
      if (code === OUTCOME.limit) return { ok: false, key: addition.key, limit: addition.limit, total };
      if (code === OUTCOME.wrongType || code === OUTCOME.wrongValue) throw unexpectedEntry(code, addition.key, 'counter');
      throw unexpectedReply();
    },

    close(): void {
      if (closed) return;
      sendQueued();
      closed = true;
      detach();
      readiness.close();
    },

    tripwires: createRedisTripwireState((s, keys, args) => {
      sendQueued();
      return run(s, keys, args);
    }, layout),
  };
}

/** The script's keys and its (amount, limit, ttl) triplets; amounts checked before anything is sent. */
function additionArgs(layout: RedisLayout, additions: readonly CounterAddition[]): { keys: string[]; args: string[] } {
  const keys: string[] = [];
  const args: string[] = [];
  for (const a of additions) {
    if (!Number.isSafeInteger(a.amount) || a.amount < 0) throw new RangeError('a counter addition must be a non-negative safe integer');
    if (!Number.isSafeInteger(a.limit) || a.limit < 0) throw new RangeError('a counter limit must be a non-negative safe integer');
    keys.push(layout.counter(a.key));
    args.push(String(a.amount), String(a.limit), ms(a.ttlMs));
  }
  return { keys, args };
}
