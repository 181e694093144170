import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

// The verify cache's budget is only as honest as its per-entry estimate: measured here as the
// heap after a full GC with the entries cached against the same run with none cached.
const script = fileURLToPath(new URL('../support/verify-cache-memory.ts', import.meta.url));
const run = (n: number, mode: 'full' | 'empty') =>
  JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, String(n), mode], { encoding: 'utf8' }).trim()) as {
    heap: number;
    entries: number;
    bytes: number;
  };

test('the estimated bytes per cached capability are at least what an entry really keeps alive', () => {
  const n = 4000;
  const full = run(n, 'full');
  const empty = run(n, 'empty');
  expect(full.entries).toBe(n);
  expect(empty.entries).toBe(0);
  const measured = (full.heap - empty.heap) / n;
  const estimated = full.bytes / n;
  expect(measured).toBeGreaterThan(100);
  expect(estimated).toBeGreaterThanOrEqual(measured);
  // And not wildly above it: 100,000 capabilities must fit the default 64 MiB budget.
  expect(estimated).toBeLessThan((64 * 1024 * 1024) / 100_000);
}, 60_000);
