/**
 * The little the Redis store needs from a client: run a cached script by SHA, or send it whole.
 * Both `ioredis` and `redis` (node-redis v4/v5) already have this shape, so neither package is
 * imported; the store adapts whichever it is given.
 */

/** The part of an `ioredis` client (or Cluster) the store uses. */
export interface IoredisLike {
  evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/** The part of a `redis` (node-redis) client (or cluster) the store uses. */
export interface NodeRedisLike {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

export type RedisClientLike = IoredisLike | NodeRedisLike;

/** Runs a script, falling back from EVALSHA to EVAL when the server does not have it cached. */
export type ScriptRunner = (sha: string, source: string, keys: string[], args: string[]) => Promise<unknown>;

interface Emitter {
  on(event: string, listener: (arg: unknown) => void): unknown;
  off?(event: string, listener: (arg: unknown) => void): unknown;
  removeListener?(event: string, listener: (arg: unknown) => void): unknown;
}

const detachFrom = (emitter: Partial<Emitter>, event: string, listener: (arg: unknown) => void): void => {
  if (typeof emitter.off === 'function') emitter.off(event, listener);
  else if (typeof emitter.removeListener === 'function') emitter.removeListener(event, listener);
};

// A restarted or flushed server has forgotten every script: the reply starts with NOSCRIPT.
const isNoScript = (err: unknown): boolean => err instanceof Error && err.message.startsWith('NOSCRIPT');

export function isRedisClient(client: unknown): client is RedisClientLike {
  if (typeof client !== 'object' || client === null) return false;
  const c = client as Record<string, unknown>;
  return (typeof c.evalsha === 'function' || typeof c.evalSha === 'function') && typeof c.eval === 'function';
}

/**
 * Whether the client is a Redis Cluster client: an ioredis `Cluster` (`isCluster`) or a
 * node-redis cluster (`getSlotMaster`). Each routes a script by its keys' slot and follows
 * MOVED and ASK redirections itself.
 */
export function isClusterClient(client: RedisClientLike): boolean {
  const c = client as unknown as { isCluster?: unknown; getSlotMaster?: unknown };
  return c.isCluster === true || typeof c.getSlotMaster === 'function';
}

export function scriptRunner(client: RedisClientLike): ScriptRunner {
  // Promise chains rather than async functions: this runs once per guarded call, and every
  // saved microtask shows next to a loopback round trip.
  if (typeof (client as Partial<IoredisLike>).evalsha === 'function') {
    const io = client as IoredisLike;
    return (sha, source, keys, args) =>
      io.evalsha(sha, keys.length, ...keys, ...args).catch((err: unknown) => {
        if (!isNoScript(err)) throw err;
        return io.eval(source, keys.length, ...keys, ...args);
      });
  }
  const nr = client as NodeRedisLike;
  return (sha, source, keys, args) => {
    const options = { keys, arguments: args };
    return nr.evalSha(sha, options).catch((err: unknown) => {
      if (!isNoScript(err)) throw err;
      return nr.eval(source, options);
    });
  };
}

/** Sends the whole script (EVAL): never NOSCRIPT, so never resent behind later commands. */
export function scriptSender(client: RedisClientLike): ScriptRunner {
  if (typeof (client as Partial<IoredisLike>).evalsha === 'function') {
    const io = client as IoredisLike;
    return (_sha, source, keys, args) => io.eval(source, keys.length, ...keys, ...args);
  }
  const nr = client as NodeRedisLike;
  return (_sha, source, keys, args) => nr.eval(source, { keys, arguments: args });
}

/**
 * Listens to the client's `error` event for as long as the store is open. An EventEmitter with
 * no `error` listener throws, and node-redis emits one for every lost connection: without this a
 * Redis outage would crash the process instead of denying calls. Returns the detach function.
 */
export function absorbClientErrors(client: RedisClientLike, onError: (err: unknown) => void): () => void {
  const emitter = client as Partial<Emitter>;
  if (typeof emitter.on !== 'function') return () => {};
  const listener = (err: unknown): void => onError(err);
  emitter.on('error', listener);
  return () => detachFrom(emitter, 'error', listener);
}

/** Whether the client can take a command now, as far as it tells. */
export interface Readiness {
  /** Undefined when ready (or when the client does not say); otherwise its state, in words. */
  state(): string | undefined;
  /** Whether waiting can help: the client is connecting or reconnecting on its own. */
  waitable(): boolean;
  /** Resolves when the client reports `ready`. One listener, shared by every waiting operation. */
  ready(): Promise<void>;
  close(): void;
}

// ioredis states in which it connects on its own; "wait" (lazyConnect) and "end" do not.
const IOREDIS_CONNECTING = new Set(['connecting', 'connect', 'reconnecting', 'close']);

/**
 * Reads readiness from ioredis (`status`) or node-redis (`isReady`, `isOpen`). With the offline
 * queue off, a command sent before the client is ready is refused at once: the store waits for
 * `ready` instead (within its deadline), so that the first call after start-up is not denied.
 */
export function clientReadiness(client: RedisClientLike): Readiness {
  const c = client as unknown as { status?: unknown; isReady?: unknown; isOpen?: unknown } & Partial<Emitter>;
  let waiting: Promise<void> | undefined;
  let listener: ((arg: unknown) => void) | undefined;
  const state = (): string | undefined => {
    if (typeof c.status === 'string') return c.status === 'ready' ? undefined : `ioredis status: ${c.status}`;
    if (typeof c.isReady === 'boolean') {
      if (c.isReady) return undefined;
      return c.isOpen === false ? 'node-redis: not connected' : 'node-redis: connecting';
    }
    return undefined;
  };
  return {
    state,
    waitable() {
      if (typeof c.status === 'string') return IOREDIS_CONNECTING.has(c.status);
      return c.isOpen !== false;
    },
    ready() {
      if (state() === undefined || typeof c.on !== 'function') return Promise.resolve();
      waiting ??= new Promise<void>((resolve) => {
        listener = () => {
          detachFrom(c, 'ready', listener!);
          listener = undefined;
          waiting = undefined;
          resolve();
        };
        c.on!('ready', listener);
      });
      return waiting;
    },
    close() {
      if (listener !== undefined) detachFrom(c, 'ready', listener);
      listener = undefined;
      waiting = undefined;
    },
  };
}
