/**
 * `npm run bench`: registers the OpenTelemetry SDK (see `installTelemetry`), times the floors,
 * then runs every suite in bench/suites/ (alphabetical), then prints a table and, as the last
 * line, one JSON object with every figure.
 *
 * Usage: npm run bench [-- suite-name ...]   (runs only the named suites; the floors always run)
 *        npm run bench -- --list             (names the suites)
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { createHarness, installTelemetry, round, signOnce, type BenchSuite, type Floor, type Harness } from './harness.js';

const args = process.argv.slice(2);
const dir = fileURLToPath(new URL('./suites/', import.meta.url));
const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort();
const names = files.map((f) => f.replace(/\.ts$/, ''));
if (args.includes('--help') || args.includes('--list')) {
  console.log(`usage: npx tsx bench/run.ts [suite ...]\nsuites: ${names.join(', ')}`);
  process.exit(0);
}
const unknown = args.filter((a) => !names.includes(a));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; suites: ${names.join(', ')}`);
  process.exit(2);
}

const telemetry = installTelemetry();
const startup = createHarness();
const ed25519SignUs = await startup.time('floor: node:crypto Ed25519 sign (sync, start-up)', signOnce);
const { privateKey } = generateKeyPairSync('ed25519');
const joseSignUs = await startup.time('floor: jose SignJWT EdDSA (async)', () =>
  new SignJWT({ a: 1 }).setProtectedHeader({ alg: 'EdDSA' }).sign(privateKey), { iterations: 500 });
const bare = async (x: number): Promise<number> => x + 1;
const bareCallUs = await startup.time('floor: bare async call', () => bare(1), { iterations: 100_000, floorIterations: 500 });

const h: Harness = createHarness(ed25519SignUs);
h.rows.push(...startup.rows.filter((r) => r.name.startsWith('floor: ') && !r.name.includes('same rounds')));
// Suites that divide by `floor.ed25519SignUs` get the signature timed in their latest rounds.
const floor: Floor = {
  get ed25519SignUs() {
    return h.latestSignUs;
  },
  joseSignUs,
  bareCallUs,
};

const figures: Record<string, number | string> = {
  ed25519_sign_us: round(ed25519SignUs),
  jose_sign_us: round(joseSignUs),
  bare_call_us: round(bareCallUs),
};

let before = await telemetry.flush();
for (const [i, file] of files.entries()) {
  const name = names[i]!;
  if (args.length > 0 && !args.includes(name)) continue;
  const mod = (await import(pathToFileURL(`${dir}${file}`).href)) as { default: BenchSuite };
  try {
    Object.assign(figures, await mod.default(h, floor));
  } catch (err) {
    h.note(`suite ${name}`, `skipped: ${err instanceof Error ? err.message : String(err)}`);
  }
  const after = await telemetry.flush();
  h.note(
    `${name}: telemetry`,
    `${after.spansExported - before.spansExported} spans exported of ${after.spansEnded - before.spansEnded} ended; ` +
      `${after.metricPoints - before.metricPoints} metric points in ${after.metricExports - before.metricExports} exports`,
  );
  figures[`${name}_spans_exported`] = after.spansExported - before.spansExported;
  figures[`${name}_spans_ended`] = after.spansEnded - before.spansEnded;
  before = after;
}
await telemetry.shutdown();

const width = Math.max(...h.rows.map((r) => r.name.length));
console.log('\nTessera benchmarks (CPU time unless a row says otherwise; medians over rounds; compare ratios, not absolutes)\n');
for (const r of h.rows) console.log(`${r.name.padEnd(width)}  ${r.value}`);
console.log('');
console.log(JSON.stringify(figures));
