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

// MOVED and ASK answer before the command runs; a pipeline passes them back instead of following them.
const isRedirection = (err: unknown): boolean => err instanceof Error && /^(MOVED|ASK) /.test(err.message);

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

/** What an `ioredis` Cluster adds that lets one node's scripts travel in one write. */
interface IoredisClusterLike extends IoredisLike {
  readonly isCluster: true;
  /** For each slot, the node keys serving it (primary first), as the client last learnt them. */
  readonly slots: ReadonlyArray<readonly string[] | undefined>;
  pipeline(): {
    evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): unknown;
    eval(script: string, numKeys: number, ...keysAndArgs: string[]): unknown;
    exec(): Promise<Array<[Error | null, unknown]> | null>;
  };
}

const isIoredisCluster = (client: RedisClientLike): client is IoredisClusterLike => {
  const c = client as Partial<IoredisClusterLike>;
  return c.isCluster === true && Array.isArray(c.slots) && typeof c.pipeline === 'function';
};

type Queued = {
  readonly sha: string;
  readonly source: string;
  readonly keys: string[];
  readonly args: string[];
  /** Sent whole (EVAL), never by SHA. */
  readonly whole: boolean;
  readonly resolve: (reply: unknown) => void;
  readonly reject: (err: unknown) => void;
};

/**
 * On an ioredis Cluster, the scripts issued in one event-loop turn and bound for the same node
 * leave in one pipeline: one socket write and one read of the replies per node instead of one per
 * script (ioredis writes each command on its own otherwise; node-redis already coalesces a turn's
 * commands per socket, so it gets no such runner). Each script is still its own command on its own
 * slot, answered and failed on its own; a per-node group is the set of slots ioredis itself
 * accepts in one pipeline (the same node list). Commands keep their order per node: everything
 * issued in a turn goes through here and leaves at its end, in the order issued. `slotOf` gives a
 * key's slot without hashing it; a script whose node is unknown (no slot map yet) goes alone.
 * Returns undefined for any other client.
 */
export function clusterPipelineRunners(
  client: RedisClientLike,
  slotOf: (key: string) => number | undefined,
): { cached: ScriptRunner; whole: ScriptRunner } | undefined {
  if (!isIoredisCluster(client)) return undefined;
  const io = client;
  const direct = scriptRunner(client);
  const sendWhole = scriptSender(client);
  const alone = (q: Queued): void => {
    (q.whole ? sendWhole : direct)(q.sha, q.source, q.keys, q.args).then(q.resolve, q.reject);
  };
  let queued = new Map<string, Queued[]>();
  let scheduled = false;
  const sendAll = (): void => {
    scheduled = false;
    const groups = queued;
    queued = new Map();
    for (const [node, group] of groups) {
      if (node === '' || group.length === 1) {
        for (const q of group) alone(q);
        continue;
      }
      const pipeline = io.pipeline();
      for (const q of group) {
        if (q.whole) pipeline.eval(q.source, q.keys.length, ...q.keys, ...q.args);
        else pipeline.evalsha(q.sha, q.keys.length, ...q.keys, ...q.args);
      }
      pipeline.exec().then(
        (replies) => {
          for (let i = 0; i < group.length; i++) {
            const q = group[i]!;
            const entry = replies?.[i];
            if (entry === undefined) q.reject(new Error('pipeline: no reply'));
            else if (entry[0] === null) q.resolve(entry[1]);
            // NOSCRIPT: the script did not run; send it whole, as the unbatched runner does.
            else if (!q.whole && isNoScript(entry[0])) io.eval(q.source, q.keys.length, ...q.keys, ...q.args).then(q.resolve, q.reject);
            // The slot moved (or is moving): the node ran nothing; alone, the client follows the redirection.
            else if (isRedirection(entry[0])) alone(q);
            else q.reject(entry[0]);
          }
        },
        (err: unknown) => {
          for (const q of group) q.reject(err);
        },
      );
    }
  };
  const enqueue =
    (whole: boolean): ScriptRunner =>
    (sha, source, keys, args) =>
      new Promise((resolve, reject) => {
        const slot = keys.length > 0 ? slotOf(keys[0]!) : undefined;
        const nodes = slot === undefined ? undefined : io.slots[slot];
        const node = nodes === undefined || nodes.length === 0 ? '' : nodes.join(';');
        let group = queued.get(node);
        if (group === undefined) queued.set(node, (group = []));
        group.push({ sha, source, keys, args, whole, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          process.nextTick(sendAll);
        }
      });
  return { cached: enqueue(false), whole: enqueue(true) };
}
