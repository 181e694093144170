/**
 * One `tessera advise` run on a spans file, in a process of its own so its peak RSS is its own:
 * prints one JSON line with the wall and CPU time, the peak RSS and what it read.
 */
import { runCli } from '../src/cli/run.js';

const file = process.argv[2]!;
let out = '';
const t0 = performance.now();
const code = await runCli(['advise', '--format', 'json', file], {
  stdout: (t) => {
    out += t;
  },
  stderr: (t) => process.stderr.write(t),
  readStdin: async () => '',
  cwd: process.cwd(),
  env: process.env,
  clock: Date.now,
});
const wallMs = performance.now() - t0;
const usage = process.resourceUsage();
const advice = JSON.parse(out) as { calls: number; groups: unknown[] };
console.log(JSON.stringify({ code, wallMs, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000, maxRssKb: usage.maxRSS, calls: advice.calls, groups: advice.groups.length }));
