/**
 * `npm run bench`: the floor first, then every suite in bench/suites/ (alphabetical), then a
 * table and, as the last line, one JSON object with every figure.
 *
 * Usage: npm run bench [-- suite-name ...]   (runs only the named suites; the floor always runs)
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SignJWT } from 'jose';
import { createHarness, round, type BenchSuite, type Floor } from './harness.js';

const h = createHarness();
const { privateKey } = generateKeyPairSync('ed25519');
const data = Buffer.from('a'.repeat(300));
const ed25519SignUs = await h.time('floor: node:crypto Ed25519 sign (sync)', () => sign(null, data, privateKey));
const joseSignUs = await h.time('floor: jose SignJWT EdDSA (async)', () =>
  new SignJWT({ a: 1 }).setProtectedHeader({ alg: 'EdDSA' }).sign(privateKey), { iterations: 500 });
const bare = async (x: number): Promise<number> => x + 1;
const bareCallUs = await h.time('floor: bare async call', () => bare(1), { iterations: 100_000 });
const floor: Floor = { ed25519SignUs, joseSignUs, bareCallUs };

const figures: Record<string, number | string> = {
  ed25519_sign_us: round(ed25519SignUs),
  jose_sign_us: round(joseSignUs),
  bare_call_us: round(bareCallUs),
};

const only = process.argv.slice(2);
const dir = fileURLToPath(new URL('./suites/', import.meta.url));
const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort();
for (const file of files) {
  const name = file.replace(/\.ts$/, '');
  if (only.length > 0 && !only.includes(name)) continue;
  const mod = (await import(pathToFileURL(`${dir}${file}`).href)) as { default: BenchSuite };
  try {
    Object.assign(figures, await mod.default(h, floor));
  } catch (err) {
    h.note(`suite ${name}`, `skipped: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const width = Math.max(...h.rows.map((r) => r.name.length));
console.log('\nTessera benchmarks (medians; compare ratios, not absolutes)\n');
for (const r of h.rows) console.log(`${r.name.padEnd(width)}  ${r.value}`);
console.log('');
console.log(JSON.stringify(figures));
