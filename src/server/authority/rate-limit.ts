/**
 * A token bucket per agent, in memory: each agent may ask `burst` times at once and then
 * `perMinute` times a minute. One authority process, one set of buckets: replicas behind a load
 * balancer each allow the full rate.
 */
import type { Clock } from '../../util/time.js';

export interface RateLimitOptions {
  /** Requests an agent may make at once; default 20. */
  burst?: number;
  /** Requests an agent may make per minute, sustained; default 60. */
  perMinute?: number;
}

export interface RateLimiter {
  /** 0 when allowed (and counted), otherwise the seconds to wait before the next request would be. */
  take(key: string): number;
}

const MAX_TRACKED = 100_000;

export function createRateLimiter(options: RateLimitOptions, clock: Clock): RateLimiter {
  const burst = options.burst ?? 20;
  const perMinute = options.perMinute ?? 60;
  if (!Number.isInteger(burst) || burst < 1 || burst > 1_000_000) throw new RangeError('rateLimit.burst must be an integer from 1 to 1000000');
  if (!Number.isFinite(perMinute) || perMinute <= 0 || perMinute > 6_000_000) throw new RangeError('rateLimit.perMinute must be a positive number up to 6000000');
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key) {
      const now = clock();
      let b = buckets.get(key);
      if (b === undefined) {
        // A full bucket is the same as no bucket: drop the oldest entries rather than grow without bound.
        if (buckets.size >= MAX_TRACKED) {
          for (const [k, v] of buckets) {
            if (v.tokens + (now - v.at) * perMs >= burst || buckets.size >= MAX_TRACKED) buckets.delete(k);
            if (buckets.size < MAX_TRACKED / 2) break;
          }
        }
        b = { tokens: burst, at: now };
        buckets.set(key, b);
      } else {
        b.tokens = Math.min(burst, b.tokens + Math.max(0, now - b.at) * perMs);
        b.at = now;
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
    },
  };
}
