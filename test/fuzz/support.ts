/**
 * Shared settings and hostile generators for the fuzz targets.
 *
 * `npm test` runs every target for a short, fixed-seed pass. `npm run fuzz` runs them for longer:
 * FUZZ_SECONDS (time per target), FUZZ_RUNS (runs per target) and FUZZ_SEED (reproduce a failure;
 * fast-check prints the seed and the shrunk counterexample).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';

const num = (name: string): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number`);
  return n;
};

const seconds = num('FUZZ_SECONDS');
const runs = num('FUZZ_RUNS');
const seed = num('FUZZ_SEED');
const long = seconds !== undefined || runs !== undefined;

/** fast-check parameters: the short fixed-seed pass unless FUZZ_SECONDS or FUZZ_RUNS is set. */
export function fuzzParams<T>(shortRuns: number, examples: T[] = []): fc.Parameters<T> {
  return {
    numRuns: runs ?? (seconds !== undefined ? Number.MAX_SAFE_INTEGER : shortRuns),
    ...(seconds !== undefined ? { interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false } : {}),
    seed: seed ?? (long ? Date.now() ^ (Math.random() * 0x7fffffff) : 20261128),
    examples,
  };
}

/** Test timeout for one target: the time budget plus room to set up. */
export const FUZZ_TIMEOUT_MS = seconds !== undefined ? seconds * 1000 + 60_000 : runs !== undefined ? 30 * 60_000 : 30_000;

/** A seed corpus file from test/fuzz/corpus: a JSON array. */
export function corpus<T = string>(name: string): T[] {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`./corpus/${name}`, import.meta.url)), 'utf8')) as T[];
}

/** A string assembled from pieces attackers like, ordinary text and arbitrary code points. */
export function hostileString(pieces: readonly string[], maxParts = 24): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...pieces) },
        { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
      ),
      { maxLength: maxParts },
    )
    .map((parts) => parts.join(''));
}

/**
 * Runs `f` and fails if it takes longer than `ms` (the matchers here must never stall). A stall
 * of a backtracking engine on these inputs lasts seconds; a garbage-collection pause on a busy
 * machine lasts tens of milliseconds, so the limit is never below `FUZZ_STALL_MS` (default 1 s).
 */
export function within<T>(ms: number, what: string, f: () => T): T {
  const limit = Math.max(ms, Number(process.env.FUZZ_STALL_MS ?? 1000));
  const t0 = performance.now();
  const out = f();
  const took = performance.now() - t0;
  if (took > limit) throw new Error(`${what} took ${took.toFixed(1)} ms (limit ${limit} ms)`);
  return out;
}
