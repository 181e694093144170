/** Time in one place: a clock the caller can control, and durations people can read. */

/** Milliseconds since the epoch; inject one to control time in tests. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();

/** A duration: seconds as a number, or a string such as `"30s"`, `"5m"`, `"2h"`, `"1d"`. */
export type Duration = number | `${number}${'s' | 'm' | 'h' | 'd'}`;

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses a duration into whole seconds; throws a RangeError naming the option when invalid. */
export function durationSeconds(value: Duration, option: string): number {
  let seconds: number;
  if (typeof value === 'number') {
    seconds = value;
  } else {
    const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(String(value));
    if (!m) throw new RangeError(`${option} must be seconds or a string like "30s", "5m", "2h", got ${JSON.stringify(value)}`);
    seconds = Number(m[1]) * UNIT[m[2]!]!;
  }
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new RangeError(`${option} must be a positive duration, got ${JSON.stringify(value)}`);
  }
  return Math.floor(seconds);
}
