/**
 * A clock tests control: it starts at a fixed instant and moves only when told, so expiry,
 * approval deadlines and TTLs are decided by the test, not by how fast the machine is.
 */
import type { Clock } from '../util/time.js';

export interface ManualClock extends Clock {
  /** Moves time forward by `ms` (or by a duration such as `"5m"`). */
  advance(by: number | `${number}${'ms' | 's' | 'm' | 'h'}`): void;
  /** Jumps to an instant, ms since the epoch. */
  set(ms: number): void;
  /** The instant the clock started at. */
  readonly start: number;
}

/** 2026-11-28T12:00:00Z: a fixed, unremarkable instant so that test output is reproducible. */
export const DEFAULT_TEST_TIME = Date.UTC(2026, 10, 28, 12, 0, 0);

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function toMs(by: number | string): number {
  if (typeof by === 'number') {
    if (!Number.isFinite(by)) throw new RangeError('clock.advance needs a finite number of ms');
    return by;
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(by);
  if (!m) throw new RangeError(`clock.advance needs ms or a duration like "30s", "5m", got ${JSON.stringify(by)}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

export function createManualClock(start: number | Date = DEFAULT_TEST_TIME): ManualClock {
  const startMs = start instanceof Date ? start.getTime() : start;
  if (!Number.isFinite(startMs)) throw new RangeError('createManualClock needs a finite start time');
  let now = startMs;
  const clock = (() => now) as ManualClock;
  return Object.assign(clock, {
    start: startMs,
    advance(by: number | `${number}${'ms' | 's' | 'm' | 'h'}`) {
      now += toMs(by);
    },
    set(ms: number) {
      if (!Number.isFinite(ms)) throw new RangeError('clock.set needs a finite time in ms');
      now = ms;
    },
  });
}
