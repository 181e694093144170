/**
 * `npm run fuzz`: every fuzz target for longer than the pass in `npm test`.
 *
 *   npm run fuzz                     60 s per target, fresh seed
 *   FUZZ_SECONDS=600 npm run fuzz    10 min per target
 *   FUZZ_RUNS=100000 npm run fuzz    a fixed number of runs per target instead
 *   FUZZ_SEED=1234 npm run fuzz      replay the seed a failure printed
 *
 * Extra arguments go to vitest, e.g. `npm run fuzz -- -t pathWithin` for one target.
 */
import { spawnSync } from 'node:child_process';

const env = { ...process.env };
if (!env.FUZZ_SECONDS && !env.FUZZ_RUNS) env.FUZZ_SECONDS = '60';
const r = spawnSync('npx', ['vitest', 'run', 'test/fuzz', ...process.argv.slice(2)], { stdio: 'inherit', env, shell: process.platform === 'win32' });
process.exit(r.status ?? 1);
