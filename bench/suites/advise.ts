/**
 * `tessera advise` on 1,000,000 recorded calls: one OTLP JSON document of 1.7 GB (every span as
 * the guard records an allowed call with evidence; reads carry a retrieval event; one call in 50
 * is a shadow-mode denial), streamed by the command in a process of its own, so that its peak RSS
 * is its own. The run is timed in wall time (the child's CPU time is reported beside it), in one
 * round with the floors (a run reads 1.7 GB: one is long enough to time). Target: under 30 s,
 * memory bounded.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeAdviseData } from '../advise-data.js';
import { median, round, type BenchSuite } from '../harness.js';

const run = promisify(execFile);
const CALLS = 1_000_000;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface ChildResult {
  code: number;
  wallMs: number;
  cpuMs: number;
  maxRssKb: number;
  calls: number;
  groups: number;
}

const suite: BenchSuite = async (h) => {
  const file = join(tmpdir(), `tessera-bench-advise-${process.pid}.json`);
  const t0 = performance.now();
  const bytes = await writeAdviseData(file, CALLS);
  h.note('advise: data', `${CALLS.toLocaleString('en-US')} calls, ${(bytes / 1e9).toFixed(2)} GB of OTLP JSON, written in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const results: ChildResult[] = [];
  try {
    const once = async (): Promise<void> => {
      const { stdout } = await run(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'bench/advise-child.ts'), file], { cwd: ROOT, maxBuffer: 1 << 20 });
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
      if (r.code !== 0 || r.calls !== CALLS) throw new Error(`advise read ${r.calls} calls (exit ${r.code})`);
      results.push(r);
    };
    const NAME = `advise: ${CALLS.toLocaleString('en-US')} calls (child process, wall)`;
    const rounds = await h.rounds({ [NAME]: { fn: once, iterations: 1 } }, { rounds: 1, warmup: 0, floorIterations: 2000, clock: 'wall' });
    const seconds = rounds.us(NAME) / 1e6;
    const cpu = median(results.map((r) => r.cpuMs)) / 1000;
    const rss = Math.max(...results.map((r) => r.maxRssKb)) / 1024;
    h.note('advise: calls per second', `${Math.round(CALLS / seconds).toLocaleString('en-US')} (wall ${seconds.toFixed(1)} s, child CPU ${cpu.toFixed(1)} s, target < 30 s)`);
    h.note('advise: peak RSS of the child', `${rss.toFixed(0)} MiB over ${(bytes / 1e9).toFixed(2)} GB read`);
    return {
      advise_calls_per_s: Math.round(CALLS / seconds),
      advise_wall_s: round(seconds, 1),
      advise_cpu_s: round(cpu, 1),
      advise_peak_rss_mb: Math.round(rss),
      advise_vs_ed25519_sign: round(rounds.ratio(NAME) / CALLS),
    };
  } finally {
    await rm(file, { force: true });
  }
};

export default suite;
