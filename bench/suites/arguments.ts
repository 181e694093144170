/**
 * Argument hashing (SHA-256 over RFC 8785 canonical JSON) at three sizes, against
 * JSON.stringify + SHA-256 of the same value in the same rounds: the canonical form should cost
 * little more than serialising at all. Each size is hashed as the guard sees it (members in the
 * order the schema wrote them) and with every object's keys already sorted.
 */
import { hash } from 'node:crypto';
import { hashArguments } from '../../src/util/canonical.js';
import { round, type BenchSuite } from '../harness.js';

const row = (i: number) => ({
  id: i,
  name: `customer ${i}`,
  email: `c${i}@example.com`,
  active: i % 2 === 0,
  balance: i * 10.25,
  tags: ['priority', `region-${i % 7}`],
  address: { street: `${i} Main Street`, city: 'Springfield', zip: `${10000 + i}` },
});

function sortedCopy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedCopy);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortedCopy((v as Record<string, unknown>)[k]);
  return out;
}

const suite: BenchSuite = async (h) => {
  const sizes: [string, unknown, number][] = [
    ['100 B', { ticketId: 'T-4711', to: 'ann@example.com', subject: 'Your ticket', urgent: false, retries: 2 }, 20_000],
    ['10 KB', { batch: 'b-1', rows: Array.from({ length: 50 }, (_, i) => row(i)) }, 400],
    ['1 MB', { batch: 'b-2', rows: Array.from({ length: 5200 }, (_, i) => row(i)) }, 4],
  ];
  const figures: Record<string, number> = {};
  for (const [label, value, iterations] of sizes) {
    const sorted = sortedCopy(value);
    const bytes = Buffer.byteLength(JSON.stringify(value));
    const BASE = `arguments ${label} (${bytes} B): JSON.stringify + SHA-256`;
    const OURS = `arguments ${label}: hashArguments, keys in schema order`;
    const SORTED = `arguments ${label}: hashArguments, keys already sorted`;
    const r = await h.rounds(
      {
        [BASE]: () => hash('sha256', JSON.stringify(value), 'base64url'),
        [OURS]: () => hashArguments(value),
        [SORTED]: () => hashArguments(sorted),
      },
      { iterations, rounds: 9, warmup: iterations, floorIterations: 300 },
    );
    const ratio = r.ratio(OURS, { floor: BASE });
    const sortedRatio = r.ratio(SORTED, { floor: BASE });
    h.note(`arguments ${label}: hashArguments / (JSON.stringify + SHA-256)`, `${ratio.toFixed(2)} schema order, ${sortedRatio.toFixed(2)} sorted (target <= 1.5)`);
    const key = label.replace(/\s/g, '').toLowerCase();
    figures[`args_${key}_vs_stringify_sha256`] = round(ratio);
    figures[`args_${key}_sorted_vs_stringify_sha256`] = round(sortedRatio);
    figures[`args_${key}_vs_ed25519_sign`] = round(r.ratio(OURS));
    figures[`args_${key}_us`] = round(r.us(OURS));
  }
  return figures;
};

export default suite;
