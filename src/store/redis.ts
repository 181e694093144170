/**
 * `tessera-guard/redis`: the guard store on Redis, for many processes that must agree on single use,
 * call limits and revocation.
 *
 * One guarded call costs one round trip: `reserve` is one Lua script (EVALSHA, with EVAL when the
 * server lost its script cache), atomic on the server. Every key carries an expiry tied to the
 * token it serves. Every operation is bounded by `timeoutMs`; an error, a timeout or a lost
 * connection rejects with `RedisStoreError` (`store_unavailable`), which the guard turns into a
 * denial. The client reconnects on its own; calls succeed again as soon as Redis answers.
 */
import { z } from 'zod';
import { TesseraError } from '../errors.js';
import { describeIssues } from '../util/zod-issues.js';
import { absorbClientErrors, isRedisClient, scriptRunner, scriptSender, type RedisClientLike, type ScriptRunner } from './redis-client.js';
import { CONSUME_CREDENTIAL, CONSUME_ONCE, RESERVE, REVOKE, REVOKE_CREDENTIALS, type Script } from './redis-scripts.js';
import type { CallReservation, CredentialState, ReservationResult, TesseraStore } from './types.js';

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
   * Prepended to every key; default `"tessera:"`. On Redis Cluster use a hash tag, such as
   * `"{tessera}:"`, so that one call's keys share a slot (a script may only touch one slot).
   */
  prefix?: string;
  /** Deadline for each operation, ms; default 250. Past it the call is denied. */
  timeoutMs?: number;
  /**
   * Called with each client error (a lost connection, a refused command). Errors never reach the
   * call's denial, whose reason stays generic, because a client message may quote a server URL.
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

/** The Redis store refused or could not answer; the guard denies the call with `store_unavailable`. */
export class RedisStoreError extends TesseraError {
  static override code = 'store_unavailable';
  declare readonly code: 'store_unavailable';
  readonly reason: string;

  constructor(reason: string, cause?: unknown) {
    super(reason, 'store_unavailable');
    this.reason = reason;
    // Kept off the enumerable fields: a client's error may quote connection details.
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false });
  }
}

export interface RedisStore extends TesseraStore {
  readonly prefix: string;
  reserve(reservation: CallReservation): Promise<ReservationResult>;
  revoke(key: string, at: number, ttlMs: number): Promise<void>;
  consumeOnce(key: string, ttlMs: number): Promise<boolean>;
  consumeCredential(id: string): Promise<CredentialState>;
  revokeCredential(id: string, ttlMs: number): Promise<void> | void;
  /** Stops listening to the client; later operations reject. The client stays connected. */
  close(): void;
}

const optionsSchema = z.object({
  client: z.custom<RedisClientLike>(isRedisClient, {
    message: 'must be an ioredis or node-redis client (with evalsha/evalSha and eval)',
  }),
  prefix: z.string().min(1).max(128).default('tessera:'),
  timeoutMs: z.number().int().positive().max(60_000).default(250),
  onError: z.function().optional(),
  awaitCredentialRevocation: z.boolean().default(false),
});

// Credential revocations waiting for Redis during an outage; beyond this they are dropped (the
// credentials still expire on their own within seconds).
const MAX_PENDING_REVOCATIONS = 10_000;

const ms = (ttlMs: number): string => String(Math.max(1, Math.ceil(ttlMs)));

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new TypeError(describeIssues(parsed.error, 'createRedisStore options'));
  const { client, prefix, timeoutMs, awaitCredentialRevocation } = parsed.data;
  const onError = options.onError;
  const cached = scriptRunner(client);
  const whole = scriptSender(client);
  const report = (err: unknown): void => {
    try {
      onError?.(err);
    } catch {
      // A failing error hook must not turn a Redis outage into a crash.
    }
  };
  const detach = absorbClientErrors(client, report);
  let closed = false;
  // Credentials whose calls have ended, not yet sent: keys and ttls.
  let pendingKeys: string[] = [];
  let pendingTtls: string[] = [];
  let flushScheduled = false;
  const timeoutReason = `the Redis store did not answer within ${timeoutMs} ms; calls are denied until it answers`;

  const run = (script: Script, keys: string[], args: string[], runScript: ScriptRunner = cached): Promise<unknown> => {
    if (closed) return Promise.reject(new RedisStoreError('the Redis store is closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new RedisStoreError(timeoutReason)), timeoutMs);
      runScript(script.sha, script.source, keys, args).then(
        (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        (err: unknown) => {
          clearTimeout(timer);
          const kind = err instanceof Error ? err.name : 'NonError';
          reject(new RedisStoreError(`the Redis store failed (${kind}); calls are denied until it answers`, err));
        },
      );
    });
  };

  // Whole script (EVAL), never NOSCRIPT: a resent EVALSHA would land behind later commands.
  const flush = (): void => {
    flushScheduled = false;
    if (pendingKeys.length === 0 || closed) return;
    const keys = pendingKeys;
    const ttls = pendingTtls;
    pendingKeys = [];
    pendingTtls = [];
    run(REVOKE_CREDENTIALS, keys, ttls, whole).catch(report);
  };

  const asInt = (reply: unknown): number => {
    const n = typeof reply === 'number' ? reply : typeof reply === 'string' ? Number(reply) : Number.NaN;
    if (!Number.isInteger(n)) throw new RedisStoreError('the Redis store sent an unexpected reply');
    return n;
  };

  return {
    prefix,

    async reserve(r: CallReservation): Promise<ReservationResult> {
      const keys: string[] = [];
      const revoking = pendingKeys;
      const revokingTtls = pendingTtls;
      pendingKeys = [];
      pendingTtls = [];
      const args: string[] = [
        String(r.revocations.length),
        String(r.once.length),
        String(r.counters.length),
        String(r.credentials.length),
        String(revoking.length),
      ];
      for (const c of r.revocations) {
        keys.push(prefix + c.key);
        args.push(String(c.issuedAtMs));
      }
      for (const m of r.once) {
        keys.push(prefix + m.key);
        args.push(ms(m.ttlMs));
      }
      for (const c of r.counters) {
        keys.push(prefix + c.key);
        args.push(String(c.limit), ms(c.ttlMs));
      }
      for (const c of r.credentials) {
        keys.push(`${prefix}cred:${c.id}`);
        args.push(ms(c.ttlMs));
      }
      if (revoking.length > 0) {
        keys.push(...revoking);
        args.push(...revokingTtls);
      }
      let reply: unknown;
      try {
        reply = await run(RESERVE, keys, args);
      } catch (err) {
        // The credentials that rode along were not revoked: queue them again (bounded, since an
        // outage would otherwise grow the queue) and tell the host.
        if (revoking.length > 0 && pendingKeys.length < MAX_PENDING_REVOCATIONS) {
          pendingKeys.push(...revoking);
          pendingTtls.push(...revokingTtls);
        }
        report(err);
        throw err;
      }
      if (!Array.isArray(reply) || reply.length === 0) throw new RedisStoreError('the Redis store sent an unexpected reply');
      const outcome = asInt(reply[0]);
      if (outcome === 0) return { ok: true };
      const index = asInt(reply[1]) - 1;
      const nr = r.revocations.length;
      const no = r.once.length;
      if (outcome === 1 && index >= 0 && index < nr) return { ok: false, reason: 'revoked', key: r.revocations[index]!.key };
      if (outcome === 3 && index >= nr && index < nr + no) return { ok: false, reason: 'replay', key: r.once[index - nr]!.key };
      const counter = r.counters[index - nr - no];
      if (outcome === 2 && counter !== undefined) return { ok: false, reason: 'limit', key: counter.key, limit: counter.limit };
      throw new RedisStoreError('the Redis store sent an unexpected reply');
    },

    async revoke(key: string, at: number, ttlMs: number): Promise<void> {
      if (!Number.isSafeInteger(at)) throw new RangeError('revoke: at must be a safe integer (ms)');
      flush();
      await run(REVOKE, [prefix + key], [String(at), ms(ttlMs)]);
    },

    async consumeOnce(key: string, ttlMs: number): Promise<boolean> {
      flush();
      return asInt(await run(CONSUME_ONCE, [prefix + key], [ms(ttlMs)])) === 1;
    },

    async consumeCredential(id: string): Promise<CredentialState> {
      flush();
      const state = asInt(await run(CONSUME_CREDENTIAL, [`${prefix}cred:${id}`], []));
      if (state === 1) return 'ok';
      if (state === 2) return 'spent';
      if (state === 3) return 'revoked';
      return 'unknown';
    },

    revokeCredential(id: string, ttlMs: number): Promise<void> | void {
      const key = `${prefix}cred:${id}`;
      if (awaitCredentialRevocation) {
        flush();
        return run(REVOKE_CREDENTIALS, [key], [ms(ttlMs)]).then(() => undefined);
      }
      if (closed) {
        report(new RedisStoreError('the Redis store is closed'));
        return;
      }
      pendingKeys.push(key);
      pendingTtls.push(ms(ttlMs));
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    },

    close(): void {
      if (closed) return;
      flush();
      closed = true;
      detach();
    },
  };
}
