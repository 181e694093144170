/**
 * The decision log: one record per decision, each a leaf of an RFC 9162 Merkle tree, with a
 * signed tree head every N records or T milliseconds. A record costs its producer one JSON line,
 * its leaf hash and on average one node hash (the tree is kept as its frontier); signatures and
 * sink writes happen off the call path, in batches.
 *
 * Every line a sink receives is one JSON object:
 *   {"t":"decision"|"grant"|"gap"|…, "seq":n, "time":ms, …}   a record: leaf n is SHA-256(0x00 || line)
 *   {"t":"head","jws":"…"}                                      a signed tree head, placed right after leaf size-1
 *   {"t":"lost","seq":n,"leaf":"hex"}                           stands for record n, which a failing sink never wrote
 * Lost lines exist only under `onSinkFailure: 'record-gap'`, and always with a signed `gap`
 * record naming them; verification reports both.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { safeCause } from '../../errors.js';
import { jwkThumbprint } from '../../jose/jwk.js';
import { importSigningKeySync, type JWKS, type PrivateKeyInput, type SigningKey } from '../../jose/keys.js';
import { withDeadline } from '../../util/deadline.js';
import { clockOption, objectOption } from '../../util/option-schemas.js';
import { parseOptions } from '../../util/options.js';
import { systemClock, type Clock } from '../../util/time.js';
import { CompactTree, leafHash, prefixedLeafDigest } from './merkle.js';
import { signTreeHead, type SignedTreeHead } from './tree-head.js';

/** Where log lines go. Writes are serialised: the next batch waits for the previous one. */
export interface DecisionLogSink {
  /** Names the sink in gap records and denial reasons, e.g. `file`. */
  readonly name: string;
  /** Told the log's id once, when the log is created (a file sink names its files after it). */
  open?(logId: string): void;
  /** Stores `lines` (each one JSON object, no newline) in order, all or none; settles when stored. */
  write(lines: readonly string[]): void | Promise<void>;
  close?(): void | Promise<void>;
}

export type SinkFailureMode = 'deny' | 'record-gap';

export interface DecisionLogOptions {
  /** One or more sinks; every line goes to each. */
  sinks: DecisionLogSink | readonly DecisionLogSink[];
  /** The key tree heads are signed with (Ed25519 or P-256). Default: a fresh Ed25519 key; publish `jwks()`. */
  signingKey?: PrivateKeyInput;
  /** `kid` of the signing key; default its RFC 7638 thumbprint. */
  keyId?: string;
  /** This log's id, in every tree head; default `<hostname>-<pid>-<random>`. One log per process. */
  logId?: string;
  /** Sign a tree head after this many records (default 1000) or this many ms with new records (default 1000), whichever comes first. */
  checkpoint?: { records?: number; intervalMs?: number };
  /**
   * What a sink that cannot write does to the guard: `deny` (default) refuses every call with
   * `decision_log_unavailable` until the sink writes again, and keeps the lines to retry them;
   * `record-gap` lets calls run, and records a signed `gap` record naming the records that
   * sink lost, which verification reports.
   */
  onSinkFailure?: SinkFailureMode;
  /** Lines are handed to the sinks in batches this often, ms; default 100. */
  flushIntervalMs?: number;
  /** Deadline for each sink write, ms; default 5000. A write past it is a failed write. */
  sinkTimeoutMs?: number;
  /** A failed sink is retried this often, ms; default 1000. */
  retryMs?: number;
  clock?: Clock;
}

export interface DecisionLog {
  readonly logId: string;
  /** The `kid` tree heads are signed with. */
  readonly kid: string;
  /** The public key set auditors verify tree heads with. */
  jwks(): JWKS;
  /** Records appended so far. */
  readonly size: number;
  /** True once closed, and while a sink cannot write under `onSinkFailure: 'deny'`: guards refuse calls. */
  readonly refusing: boolean;
  /** Why the log is refusing (a sink's name and an error code), or undefined. */
  readonly refusal: string | undefined;
  /**
   * Appends one record and returns its sequence number. `kind` is a lowercase word (`decision`,
   * `grant`); `fields` must be JSON data and may not use `t`, `seq` or `time`.
   */
  append(kind: string, fields: Readonly<Record<string, unknown>>): number;
  /** Signs a tree head over every record so far and resolves once each sink has been handed it. */
  checkpoint(): Promise<SignedTreeHead>;
  /** The latest signed tree head, if any. */
  latestHead(): SignedTreeHead | undefined;
  /** Hands every pending line to the sinks; resolves when each has written or failed. */
  flush(): Promise<void>;
  /** Signs a final tree head, flushes, stops the timers and closes the sinks. */
  close(): Promise<void>;
}

const sinkSchema = z.custom<DecisionLogSink>(
  (v) => typeof v === 'object' && v !== null && typeof (v as DecisionLogSink).write === 'function' && typeof (v as DecisionLogSink).name === 'string',
  { message: 'must be a sink ({ name, write(lines) }), e.g. createFileSink()' },
);

const optionsSchema = z.strictObject({
  sinks: z.union([sinkSchema, z.array(sinkSchema).min(1)]),
  signingKey: objectOption<PrivateKeyInput>('a private KeyObject, CryptoKey or private JWK').optional(),
  keyId: z.string().min(1).max(256).optional(),
  logId: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 letters, digits, ".", "_" or "-"').optional(),
  checkpoint: z
    .strictObject({ records: z.number().int().min(1).max(1_000_000).optional(), intervalMs: z.number().int().min(10).max(3_600_000).optional() })
    .optional(),
  onSinkFailure: z.enum(['deny', 'record-gap']).optional(),
  flushIntervalMs: z.number().int().min(1).max(60_000).optional(),
  sinkTimeoutMs: z.number().int().min(1).max(300_000).optional(),
  retryMs: z.number().int().min(10).max(300_000).optional(),
  clock: clockOption.optional(),
});

const KIND = /^[a-z][a-z0-9_]{0,31}$/;
/** Lines per sink write: a backlog (after an outage, or at close) is written in bounded batches. */
const MAX_BATCH = 10_000;
/** Kinds only the log itself writes, and line types that are not records. */
const RESERVED_KINDS: ReadonlySet<string> = new Set(['gap', 'head', 'lost']);

interface QueuedLine {
  /** Undefined while a tree head is being signed: the sink stops there and waits. */
  line: string | undefined;
  /** For a record, its sequence number; -1 for a head. */
  readonly seq: number;
  /** A record already replaced by a lost line. */
  lost: boolean;
}

interface SinkState {
  readonly sink: DecisionLogSink;
  queue: QueuedLine[];
  writing: Promise<void> | undefined;
  failed: string | undefined;
  retryAt: number;
}

export function createDecisionLog(options: DecisionLogOptions): DecisionLog {
  const o = parseOptions(optionsSchema, options, 'createDecisionLog options');
  const sinks = (Array.isArray(o.sinks) ? o.sinks : [o.sinks]) as readonly DecisionLogSink[];
  const names = new Set(sinks.map((s) => s.name));
  if (names.size !== sinks.length) throw new TypeError('createDecisionLog options: sinks must have distinct names');
  const clock = o.clock ?? systemClock;
  const key = loadKey(o.signingKey, o.keyId);
  const logId = o.logId ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64)}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const everyRecords = o.checkpoint?.records ?? 1000;
  const intervalMs = o.checkpoint?.intervalMs ?? 1000;
  const mode: SinkFailureMode = o.onSinkFailure ?? 'deny';
  const flushMs = o.flushIntervalMs ?? 100;
  const sinkTimeoutMs = o.sinkTimeoutMs ?? 5000;
  const retryMs = o.retryMs ?? 1000;

  for (const s of sinks) s.open?.(logId);

  const tree = new CompactTree();
  let sinceHead = 0;
  let seq = 0;
  let latest: SignedTreeHead | undefined;
  let signing: Promise<SignedTreeHead> | undefined;
  // Every head still being signed: closing waits for all of them, so that none blocks its sink.
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  const states: SinkState[] = sinks.map((sink) => ({ sink, queue: [], writing: undefined, failed: undefined, retryAt: 0 }));

  let flushTimer: NodeJS.Timeout | undefined;
  const scheduleFlush = (ms = flushMs): void => {
    if (flushTimer !== undefined || closed) return;
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      void flushAll();
    }, ms);
    flushTimer.unref();
  };
  const checkpointTimer = setInterval(() => {
    if (latest === undefined ? seq > 0 : latest.size < seq) void checkpoint().catch(() => undefined);
  }, intervalMs);
  checkpointTimer.unref();

  function push(entry: QueuedLine): void {
    for (const s of states) s.queue.push(states.length === 1 ? entry : { ...entry });
  }

  function appendRecord(kind: string, fields: Readonly<Record<string, unknown>>): number {
    const n = seq++;
    // The fields' own JSON spliced in after t, seq and time: no object spread per record.
    const body = JSON.stringify(fields);
    // Built with the leaf's 0x00 prefix and hashed as is: hashing makes that string flat, and the
    // line kept for the sinks is a slice of it, rather than the tree of pieces the template makes.
    const prefixed = `\u0000{"t":"${kind}","seq":${n},"time":${clock()}${body.length > 2 ? ',' : ''}${body.slice(1)}`;
    tree.appendDigest(prefixedLeafDigest(prefixed));
    const line = prefixed.slice(1);
    push({ line, seq: n, lost: false });
    // The head's place is taken now, right after its last record; only the signing is deferred.
    if (++sinceHead >= everyRecords) void checkpoint().catch(() => undefined);
    scheduleFlush();
    return n;
  }

  function checkpoint(): Promise<SignedTreeHead> {
    sinceHead = 0;
    if (latest !== undefined && latest.size === tree.size && signing === undefined) return Promise.resolve(latest);
    // The head's place in every sink is taken now, right after its last record; its line is
    // filled in once signed, and sinks write nothing past it until then.
    const slots: QueuedLine[] = states.map((s) => {
      const slot: QueuedLine = { line: undefined, seq: -1, lost: false };
      s.queue.push(slot);
      return slot;
    });
    const head = { log: logId, size: tree.size, root: tree.root().toString('hex'), time: clock(), frontier: tree.frontier().map((h) => h.toString('hex')) };
    const signed = signTreeHead(key, head).then(
      (sth) => {
        const line = JSON.stringify({ t: 'head', jws: sth.jws });
        for (const slot of slots) slot.line = line;
        if (latest === undefined || sth.size >= latest.size) latest = sth;
        return sth;
      },
      (err: unknown) => {
        // Never left blocking the sinks: the next checkpoint covers these records.
        for (const s of states) s.queue = s.queue.filter((q) => !slots.includes(q));
        throw err;
      },
    );
    const current = (signing = signed.finally(() => {
      if (signing === current) signing = undefined;
      inFlight.delete(current);
      scheduleFlush(0);
    }));
    inFlight.add(current);
    return current;
  }

  /** Writes what is ready in one sink's queue; false when the write failed. */
  async function writeSink(s: SinkState): Promise<boolean> {
    let n = 0;
    while (n < s.queue.length && n < MAX_BATCH && s.queue[n]!.line !== undefined) n++;
    if (n === 0) return true;
    const batch = s.queue.slice(0, n);
    try {
      await withDeadline(s.sink.write(batch.map((q) => q.line!)), sinkTimeoutMs, `the decision log sink "${s.sink.name}"`);
      s.queue.splice(0, n);
      s.failed = undefined;
      return true;
    } catch (err) {
      const cause = safeCause(err);
      s.failed = cause?.code ?? cause?.name ?? 'error';
      s.retryAt = Date.now() + retryMs;
      if (mode === 'record-gap') recordGap(s, batch, s.failed);
      return false;
    }
  }

  /** One write at a time per sink: waits for the one in flight, or starts one. */
  function writeOnce(s: SinkState): Promise<boolean> {
    if (s.writing !== undefined) return s.writing.then(() => s.failed === undefined);
    const w = writeSink(s);
    s.writing = w.then(
      () => undefined,
      () => undefined,
    );
    void s.writing.then(() => {
      s.writing = undefined;
    });
    return w;
  }

  /** The records of a failed batch become lost lines, and one signed gap record names them. */
  function recordGap(s: SinkState, batch: readonly QueuedLine[], reason: string): void {
    let from = -1;
    let to = -1;
    let count = 0;
    for (const q of batch) {
      if (q.seq < 0 || q.lost) continue;
      q.lost = true;
      q.line = JSON.stringify({ t: 'lost', seq: q.seq, leaf: leafHash(q.line!).toString('hex') });
      if (from === -1) from = q.seq;
      to = q.seq;
      count++;
    }
    if (count > 0) appendRecord('gap', { sink: s.sink.name, from, to, count, reason });
  }

  async function flushAll(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      states.map((s) => {
        if (s.writing !== undefined) return s.writing;
        if (s.failed !== undefined && now < s.retryAt && !closed) return undefined;
        return writeOnce(s);
      }),
    );
    const waiting = states.some((s) => s.queue.length > 0);
    if (waiting) scheduleFlush(states.some((s) => s.failed !== undefined) ? retryMs : flushMs);
  }

  const refusal = (): string | undefined => {
    if (closed) return 'the decision log is closed';
    if (mode !== 'deny') return undefined;
    for (const s of states) if (s.failed !== undefined) return `the decision log sink "${s.sink.name}" cannot write (${s.failed})`;
    return undefined;
  };

  return {
    logId,
    kid: key.kid,
    jwks: () => ({ keys: [{ ...key.publicJwk }] }),
    get size() {
      return seq;
    },
    get refusing() {
      return refusal() !== undefined;
    },
    get refusal() {
      return refusal();
    },
    append(kind, fields) {
      if (closed) throw new TypeError('decision log: append after close()');
      if (typeof kind !== 'string' || !KIND.test(kind) || RESERVED_KINDS.has(kind)) {
        throw new TypeError('decision log: kind must be a lowercase word other than gap, head and lost');
      }
      if (fields === null || typeof fields !== 'object' || Array.isArray(fields) || 't' in fields || 'seq' in fields || 'time' in fields) {
        throw new TypeError('decision log: fields must be an object without t, seq or time');
      }
      return appendRecord(kind, fields);
    },
    checkpoint,
    latestHead: () => latest,
    async flush() {
      if (signing !== undefined) await signing.catch(() => undefined);
      await flushAll();
    },
    async close() {
      if (closed) return;
      await checkpoint().catch(() => undefined);
      await Promise.allSettled([...inFlight]);
      closed = true;
      clearInterval(checkpointTimer);
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      flushTimer = undefined;
      // Each sink writes until its queue is empty or a write fails now: a write in flight may
      // leave lines behind it, and a sink that failed before may have recovered.
      for (const s of states) {
        if (s.writing !== undefined) await s.writing;
        while (s.queue.length > 0 && s.queue[0]!.line !== undefined) if (!(await writeOnce(s))) break;
      }
      for (const s of states) {
        try {
          await withDeadline(s.sink.close?.(), sinkTimeoutMs, `the decision log sink "${s.sink.name}"`);
        } catch {
          // Closing is best effort: what could be written was written above.
        }
      }
    },
  };
}

function loadKey(input: PrivateKeyInput | undefined, kid: string | undefined): SigningKey {
  const privateKey = input ?? generateKeyPairSync('ed25519').privateKey;
  const probe = importSigningKeySync(privateKey, 'probe', 'signingKey');
  return kid === undefined ? importSigningKeySync(privateKey, jwkThumbprint(probe.publicJwk), 'signingKey') : importSigningKeySync(privateKey, kid, 'signingKey');
}
