/** The tripwire state's bounds in the memory store, and a trip past the record bound. */
import { expect, test } from 'vitest';
import { StoreFullError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/index.js';
import { listQuarantines, MAX_QUARANTINE_RECORDS, tripQuarantine } from '../../src/store/tripwire-state.js';
import { manualClock } from '../support/fixtures.js';

test('the memory store keeps at most 100,000 counts; a count past that is refused with StoreFullError until counts expire', () => {
  const clock = manualClock();
  const store = createMemoryStore({ clock });
  for (let i = 0; i < 100_000; i++) store.tripwires.countEvent(`trip:{a${i}}:denials`, 5, 60_000, clock());
  expect(() => store.tripwires.countEvent('trip:{late}:denials', 5, 60_000, clock())).toThrow(StoreFullError);
  clock.advance(60_001);
  expect(store.tripwires.countEvent('trip:{late}:denials', 5, 60_000, clock())).toBe(1);
});

test('a count keeps the latest `limit` events and answers how many lie within the window', () => {
  const clock = manualClock();
  const store = createMemoryStore({ clock });
  const count = () => store.tripwires.countEvent('trip:{a}:denials', 3, 10_000, clock());
  expect([count(), count(), count(), count()]).toEqual([1, 2, 3, 3]);
  clock.advance(9_000);
  expect(count()).toBe(3);
  clock.advance(2_000);
  expect(count()).toBe(2);
});

test('at most 10,000 quarantine records: past that a trip still stops the agent, unrecorded', async () => {
  const clock = manualClock();
  const store = createMemoryStore({ clock });
  expect(MAX_QUARANTINE_RECORDS).toBe(10_000);
  const entry = (agent: string) => ({ agent, tripwire: 'canary' as const, reason: 'r', scope: 'agent' as const, intent: undefined, tool: 't', by: 'app', atMs: clock(), stopAtMs: clock(), ttlMs: 60_000 });
  for (let i = 0; i < 10_000; i++) expect((await tripQuarantine(store, entry(`agent-${i}`))).record).toBeDefined();
  const last = await tripQuarantine(store, entry('agent-late'));
  expect(last.record).toBeUndefined();
  expect(store.peek({ revocations: [{ key: 'agent:agent-late', issuedAtMs: clock() }], counters: [], once: [], credentials: [] })).toMatchObject({ ok: false, reason: 'revoked' });
  expect((await listQuarantines(store, clock())).length).toBe(10_000);
  clock.advance(60_001);
  expect((await tripQuarantine(store, { ...entry('agent-later'), atMs: clock(), stopAtMs: clock() })).record).toBeDefined();
});
