/**
 * The memory store at sustained load: 50,000 guarded calls per second for 5 simulated minutes
 * (a manual clock), each doing the store work of a guarded call with the default options —
 * three revocation checks, a credential registered for 60 s (30 s credential + 30 s margin),
 * revoked when the call ends. Reports refusals (must be 0), the heap and buffer bytes per live
 * entry after garbage collection, and the store's own rate in wall-clock calls per second.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createMemoryStore } from '../../src/store/memory.js';
import { createManualClock } from '../../src/testing/clock.js';
import { randomId } from '../../src/util/canonical.js';
import { round, type BenchSuite } from '../harness.js';

const RATE = 50_000;
const SECONDS = 300;
const CREDENTIAL_TTL_MS = 60_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAndBuffers = (): number => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

const suite: BenchSuite = async (h) => {
  const clock = createManualClock();
  const store = createMemoryStore({ clock });
  const revocations = [
    { key: 'cap:bench-capability', issuedAtMs: clock.start },
    { key: 'agent:spiffe://example.org/agents/bench', issuedAtMs: clock.start },
    { key: 'intent:bench', issuedAtMs: clock.start },
  ];
  const before = heapAndBuffers();
  let denials = 0;
  let largest = 0;
  let slowestUs = 0;
  const stepMs = 1000 / RATE;
  const t0 = performance.now();
  for (let s = 0; s < SECONDS; s++) {
    const s0 = performance.now();
    for (let i = 0; i < RATE; i++) {
      const id = randomId();
      try {
        if (!store.reserve({ revocations, counters: [], once: [], credentials: [{ id, ttlMs: CREDENTIAL_TTL_MS }] }).ok) denials++;
        store.revokeCredential(id, CREDENTIAL_TTL_MS);
      } catch {
        denials++;
      }
      clock.advance(stepMs);
    }
    slowestUs = Math.max(slowestUs, ((performance.now() - s0) * 1000) / RATE);
    largest = Math.max(largest, store.size);
  }
  const callsPerS = (RATE * SECONDS) / ((performance.now() - t0) / 1000);
  const entries = store.size;
  const full = heapAndBuffers();
  const bytesPerEntry = (full - before) / entries;
  store.close();

  h.note(`memory store: ${RATE.toLocaleString('en-US')} calls/s for ${SECONDS / 60} simulated minutes, refusals`, `${denials} (target 0)`);
  h.note('memory store: live entries at the end / largest', `${entries.toLocaleString('en-US')} / ${largest.toLocaleString('en-US')}`);
  h.note('memory store: heap + buffers per live entry (after gc)', `${bytesPerEntry.toFixed(1)} B (target <= 64)`);
  h.note('memory store: store work of one call (reserve + revoke)', `${Math.round(callsPerS).toLocaleString('en-US')} calls/s; slowest simulated second ${slowestUs.toFixed(2)} µs/call`);
  return {
    memory_store_sustained_denials: denials,
    memory_store_bytes_per_entry: round(bytesPerEntry, 1),
    memory_store_calls_per_s: Math.round(callsPerS),
    memory_store_live_entries: entries,
  };
};

export default suite;
