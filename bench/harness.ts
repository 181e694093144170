/**
 * A small benchmark harness. The machine is shared and noisy, so every figure is a median over
 * several rounds, and every suite reports ratios against a floor measured in the same run.
 */

export interface Measurement {
  name: string;
  /** Median microseconds per operation. */
  us: number;
  /** Operations per second at that median. */
  opsPerSec: number;
}

export interface Harness {
  /** Times `fn` (sync or async) and records it in the table; returns median µs per op. */
  time(name: string, fn: () => unknown, options?: { iterations?: number; rounds?: number; warmup?: number }): Promise<number>;
  /** Times `concurrency` calls of `fn` in flight at once; returns operations per second. */
  throughput(name: string, fn: () => Promise<unknown>, options?: { concurrency?: number; total?: number; rounds?: number }): Promise<number>;
  /**
   * Times several functions in alternating rounds, so that load from other processes hits them
   * alike; returns each one's per-round µs/op (use `ratioMedian` to compare them).
   */
  interleaved(
    entries: Record<string, () => unknown>,
    options?: { iterations?: number; rounds?: number; warmup?: number },
  ): Promise<Record<string, number[]>>;
  /** Adds a free-form row to the printed table. */
  note(name: string, value: string): void;
  readonly rows: { name: string; value: string }[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function createHarness(): Harness {
  const rows: { name: string; value: string }[] = [];
  return {
    rows,
    async time(name, fn, options = {}) {
      const iterations = options.iterations ?? 2000;
      const rounds = options.rounds ?? 7;
      const warmup = options.warmup ?? Math.min(iterations, 1000);
      for (let i = 0; i < warmup; i++) {
        const r = fn();
        if (r instanceof Promise) await r;
      }
      const perRound: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const t0 = performance.now();
        for (let i = 0; i < iterations; i++) {
          const v = fn();
          if (v instanceof Promise) await v;
        }
        perRound.push(((performance.now() - t0) * 1000) / iterations);
      }
      const us = median(perRound);
      rows.push({ name, value: `${us.toFixed(2)} µs/op` });
      return us;
    },
    async throughput(name, fn, options = {}) {
      const concurrency = options.concurrency ?? 64;
      const total = options.total ?? 20_000;
      const rounds = options.rounds ?? 5;
      const results: number[] = [];
      for (let r = 0; r < rounds + 1; r++) {
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
        if (r > 0) results.push(total / secs); // the first round warms up
      }
      const ops = median(results);
      rows.push({ name, value: `${Math.round(ops).toLocaleString('en-US')} ops/s (${concurrency} in flight)` });
      return ops;
    },
    async interleaved(entries, options = {}) {
      const iterations = options.iterations ?? 2000;
      const rounds = options.rounds ?? 9;
      const warmup = options.warmup ?? Math.min(iterations, 1000);
      const names = Object.keys(entries);
      const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
      for (const n of names) {
        const fn = entries[n]!;
        for (let i = 0; i < warmup; i++) {
          const r = fn();
          if (r instanceof Promise) await r;
        }
      }
      for (let r = 0; r < rounds; r++) {
        for (const n of names) {
          const fn = entries[n]!;
          const t0 = performance.now();
          for (let i = 0; i < iterations; i++) {
            const v = fn();
            if (v instanceof Promise) await v;
          }
          out[n]!.push(((performance.now() - t0) * 1000) / iterations);
        }
      }
      for (const n of names) rows.push({ name: n, value: `${median(out[n]!).toFixed(2)} µs/op` });
      return out;
    },
    note(name, value) {
      rows.push({ name, value });
    },
  };
}

/** A suite adds rows to the table and returns its figures for the final JSON line. */
export type BenchSuite = (h: Harness, floor: Floor) => Promise<Record<string, number | string>>;

/** The floor measured once per run, shared by every suite. */
export interface Floor {
  /** One raw node:crypto Ed25519 signature (sync), µs. */
  ed25519SignUs: number;
  /** One jose EdDSA signature (SignJWT, async), µs. */
  joseSignUs: number;
  /** One bare async function call, µs. */
  bareCallUs: number;
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
