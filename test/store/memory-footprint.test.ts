/**
 * What a live entry costs, measured on the real heap after garbage collection: the store is
 * filled with a minute of calls' credentials (the guard's ids) and emptied by time.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, test } from 'vitest';
import { createMemoryStore } from '../../src/store/memory.js';
import { createManualClock } from '../../src/testing/clock.js';
import { credentialIdForRoot } from '../../src/guard/reservation.js';
import { randomId } from '../../src/util/canonical.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const used = (): number => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

test('a live credential costs at most 64 bytes of heap and buffers, ids included', () => {
  const clock = createManualClock();
  const store = createMemoryStore({ clock });
  const revocations = [{ key: 'cap:c', issuedAtMs: clock.start }];
  // 10,000 calls/s for the 65 s a credential is held: 650,000 live entries spread over buckets.
  const perSecond = 10_000;
  for (let s = 0; s < 65; s++) {
    for (let i = 0; i < perSecond; i++) {
      const id = credentialIdForRoot(randomId());
      store.reserve({ revocations, counters: [], once: [], credentials: [{ id, ttlMs: 60_000 }] });
      store.revokeCredential(id, 60_000);
    }
    clock.advance(1000);
  }
  const entries = store.size;
  const full = used();
  clock.advance('10m');
  expect(store.size).toBe(0);
  const empty = used();
  const perEntry = (full - empty) / entries;
  expect(entries).toBeGreaterThan(590_000);
  expect(perEntry).toBeGreaterThan(16);
  expect(perEntry).toBeLessThanOrEqual(64);
  store.close();
});
