/**
 * The benchmark harness. Figures are measured the way users run the guard: with the real
 * OpenTelemetry SDK registered (a NodeTracerProvider with a BatchSpanProcessor, the
 * AsyncLocalStorage context manager, and a MeterProvider with a periodic reader), whose exporters
 * only count what they receive. The machine is shared and noisy, so every figure is timed in
 * rounds, and every ratio is taken within a round against a floor (a raw node:crypto Ed25519
 * signature, and a verification) timed in the same rounds, in a shuffled order; the figure is the
 * median over rounds. Time is this process's CPU time (see `batch`) unless a suite asks for wall
 * time.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { metrics } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** Row names of the floors that every set of rounds times alongside the entries. */
export const FLOOR_SIGN = 'floor: Ed25519 sign (same rounds)';
export const FLOOR_VERIFY = 'floor: Ed25519 verify (same rounds)';

export interface Measurement {
  name: string;
  /** Median microseconds per operation. */
  us: number;
  /** Operations per second at that median. */
  opsPerSec: number;
}

type Entry = (() => unknown) | { fn: () => unknown; iterations: number };

export interface RoundOptions {
  /** Calls per entry per round (an entry may set its own). Default 2000. */
  iterations?: number;
  /** Default 9. */
  rounds?: number;
  /** Calls per entry before the first round. Default min(iterations, 1000). */
  warmup?: number;
  /** Calls of each floor per round. Default: `iterations`, clamped to 200..3000. */
  floorIterations?: number;
  /** `cpu` (default): CPU time of this process; `wall` for calls that wait on another process. */
  clock?: BenchClock;
}

/** Per-round µs/op of every entry and of both floors, with the medians and ratios derived from them. */
export interface Rounds {
  readonly series: Readonly<Record<string, number[]>>;
  /** Median µs/op over rounds. */
  us(name: string): number;
  /**
   * Median over rounds of (name − minus) / floor, each term from the same round. `floor` defaults
   * to the Ed25519 signature.
   */
  ratio(name: string, options?: { minus?: string; floor?: string }): number;
}

export interface Harness {
  /**
   * Times the entries and both floors in rounds, in a fresh shuffled order each round, so that
   * load from other processes weighs on all of them alike. Adds one row per entry (with its
   * ratio to the signature) and one per floor.
   */
  rounds(entries: Record<string, Entry>, options?: RoundOptions): Promise<Rounds>;
  /** Times `fn` in rounds with the floors; records it in the table; returns median µs per op. */
  time(name: string, fn: () => unknown, options?: RoundOptions): Promise<number>;
  /**
   * Times `concurrency` calls of `fn` in flight at once, each round followed by the raw signature
   * rate on this thread, and reports both; returns the median operations per second.
   */
  throughput(name: string, fn: () => Promise<unknown>, options?: { concurrency?: number; total?: number; rounds?: number }): Promise<number>;
  /** Kept for suites written against the first harness: `rounds`, returning the raw series (floors included). */
  interleaved(entries: Record<string, () => unknown>, options?: RoundOptions): Promise<Record<string, number[]>>;
  /** Adds a free-form row to the printed table. */
  note(name: string, value: string): void;
  /** The signature floor's median µs in the most recent rounds (the start-up figure before any). */
  readonly latestSignUs: number;
  readonly rows: { name: string; value: string }[];
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// A fixed seed: the order varies from round to round but is the same from run to run.
function shuffler(seed: number): <T>(xs: T[]) => T[] {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (xs) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
}

export type BenchClock = 'cpu' | 'wall';

// CPU time of this process (all its threads, so the SDK's and the GC's work counts) is what the
// code costs; wall time on a machine shared with other work also counts the time it waited for a
// core. Suites whose calls wait on another process (a server) ask for wall time.
const cpuNowUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function batch(fn: () => unknown, iterations: number, clock: BenchClock = 'cpu'): Promise<number> {
  const c0 = clock === 'cpu' ? cpuNowUs() : 0;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const v = fn();
    if (v instanceof Promise) await v;
  }
  if (clock === 'cpu') return (cpuNowUs() - c0) / iterations;
  return ((performance.now() - t0) * 1000) / iterations;
}

const floorKey = generateKeyPairSync('ed25519');
const floorData = Buffer.from('a'.repeat(300));
const floorSig = sign(null, floorData, floorKey.privateKey);
/** One raw node:crypto Ed25519 signature over 300 bytes: the unit every ratio is expressed in. */
export const signOnce = (): Buffer => sign(null, floorData, floorKey.privateKey);
/** One raw node:crypto Ed25519 verification of that signature. */
export const verifyOnce = (): boolean => verify(null, floorData, floorKey.publicKey, floorSig);

export function createHarness(initialSignUs = 0): Harness {
  const rows: { name: string; value: string }[] = [];
  const shuffle = shuffler(0x7e55e2a);
  let latestSignUs = initialSignUs;

  const rounds: Harness['rounds'] = async (entries, options = {}) => {
    const iterations = options.iterations ?? 2000;
    const count = options.rounds ?? 9;
    const floorIterations = options.floorIterations ?? Math.min(3000, Math.max(200, iterations));
    const clock = options.clock ?? 'cpu';
    const all: [string, () => unknown, number][] = [
      [FLOOR_SIGN, signOnce, floorIterations],
      [FLOOR_VERIFY, verifyOnce, floorIterations],
      ...Object.entries(entries).map(([n, e]): [string, () => unknown, number] =>
        typeof e === 'function' ? [n, e, iterations] : [n, e.fn, e.iterations]),
    ];
    const series: Record<string, number[]> = Object.create(null) as Record<string, number[]>;
    for (const [n, fn, its] of all) {
      series[n] = [];
      await batch(fn, options.warmup ?? Math.min(its, 1000), clock);
    }
    for (let r = 0; r < count; r++) {
      for (const [n, fn, its] of shuffle([...all])) series[n]!.push(await batch(fn, its, clock));
    }
    const at = (name: string): number[] => {
      const s = series[name];
      if (s === undefined) throw new RangeError(`no series named "${name}"`);
      return s;
    };
    const result: Rounds = {
      series,
      us: (name) => median(at(name)),
      ratio(name, { minus, floor = FLOOR_SIGN } = {}) {
        const v = at(name);
        const m = minus === undefined ? undefined : at(minus);
        const f = at(floor);
        return median(v.map((x, k) => (x - (m === undefined ? 0 : m[k]!)) / f[k]!));
      },
    };
    latestSignUs = result.us(FLOOR_SIGN);
    rows.push({ name: FLOOR_SIGN, value: `${latestSignUs.toFixed(2)} µs/op` });
    rows.push({ name: FLOOR_VERIFY, value: `${result.us(FLOOR_VERIFY).toFixed(2)} µs/op` });
    for (const [n] of all.slice(2)) {
      rows.push({ name: n, value: `${result.us(n).toFixed(2)} µs/op  (${result.ratio(n).toFixed(3)}x sign)` });
    }
    return result;
  };

  return {
    rows,
    get latestSignUs() {
      return latestSignUs;
    },
    rounds,
    async time(name, fn, options = {}) {
      const r = await rounds({ [name]: fn }, { rounds: 7, ...options });
      return r.us(name);
    },
    async interleaved(entries, options = {}) {
      const r = await rounds(entries, options);
      return r.series as Record<string, number[]>;
    },
    async throughput(name, fn, options = {}) {
      const concurrency = options.concurrency ?? 64;
      const total = options.total ?? 20_000;
      const count = options.rounds ?? 5;
      const ops: number[] = [];
      const signs: number[] = [];
      for (let r = 0; r < count + 1; r++) {
        let started = 0;
        const t0 = performance.now();
        const worker = async (): Promise<void> => {
          while (started < total) {
            started++;
            await fn();
          }
        };
        await Promise.all(Array.from({ length: concurrency }, worker));
        const secs = (performance.now() - t0) / 1000;
        const signUs = await batch(signOnce, 2000, 'wall');
        if (r > 0) {
          // The first round warms up.
          ops.push(total / secs);
          signs.push(1e6 / signUs);
        }
      }
      const result = median(ops);
      const signRate = median(signs);
      rows.push({
        name,
        value: `${Math.round(result).toLocaleString('en-US')} ops/s (${concurrency} in flight); raw Ed25519 sign ${Math.round(signRate).toLocaleString('en-US')}/s in the same rounds`,
      });
      return result;
    },
    note(name, value) {
      rows.push({ name, value });
    },
  };
}

/** A suite adds rows to the table and returns its figures for the final JSON line. */
export type BenchSuite = (h: Harness, floor: Floor) => Promise<Record<string, number | string>>;

/** Floors measured at start-up. Ratios should use the floors of their own rounds instead (`Rounds.ratio`). */
export interface Floor {
  /** One raw node:crypto Ed25519 signature (sync), µs: the most recent rounds' median, else the start-up figure. */
  readonly ed25519SignUs: number;
  /** One jose EdDSA signature (SignJWT, async), µs. */
  readonly joseSignUs: number;
  /** One bare async function call, µs. */
  readonly bareCallUs: number;
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

export { median };

/** The median over rounds of f(round values), for ratios measured within each round. */
export function perRoundMedian(series: Record<string, number[]>, f: (at: (name: string) => number) => number): number {
  const rounds = Math.min(...Object.values(series).map((s) => s.length));
  const values: number[] = [];
  for (let r = 0; r < rounds; r++) values.push(f((name) => series[name]![r]!));
  return median(values);
}

/** What the counting exporters received, and what the span processor was handed. */
export interface TelemetryCounts {
  spansEnded: number;
  spansExported: number;
  metricExports: number;
  metricPoints: number;
}

export interface BenchTelemetry {
  /** Exports whatever is pending, then reads the counters. */
  flush(): Promise<TelemetryCounts>;
  shutdown(): Promise<void>;
}

/**
 * Registers the OpenTelemetry SDK globally, as a host application would: the guard finds it
 * through `@opentelemetry/api` with no option. Exporters only count, so the figures are the
 * SDK's in-process cost and none of a network's.
 */
export function installTelemetry(): BenchTelemetry {
  const counts: TelemetryCounts = { spansEnded: 0, spansExported: 0, metricExports: 0, metricPoints: 0 };
  const spanExporter: SpanExporter = {
    export(spans: ReadableSpan[], done: (r: ExportResult) => void) {
      counts.spansExported += spans.length;
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: async () => {},
    forceFlush: async () => {},
  };
  class CountingBatchSpanProcessor extends BatchSpanProcessor {
    override onEnd(span: ReadableSpan): void {
      counts.spansEnded++;
      super.onEnd(span);
    }
  }
  const processor = new CountingBatchSpanProcessor(spanExporter);
  const tracerProvider = new NodeTracerProvider({ spanProcessors: [processor] });
  tracerProvider.register({ contextManager: new AsyncLocalStorageContextManager() });

  const metricExporter: PushMetricExporter = {
    export(data: ResourceMetrics, done: (r: ExportResult) => void) {
      counts.metricExports++;
      for (const scope of data.scopeMetrics) for (const m of scope.metrics) counts.metricPoints += m.dataPoints.length;
      done({ code: ExportResultCode.SUCCESS });
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const meterProvider = new MeterProvider({
    readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 10_000 })],
  });
  metrics.setGlobalMeterProvider(meterProvider);

  return {
    async flush() {
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush();
      return { ...counts };
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}
