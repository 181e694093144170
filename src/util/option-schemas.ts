/**
 * Schemas for the values public options share: functions, stores, verifiers, engines, durations.
 * They check shape only, once, at construction; whatever they accept is used as given (a
 * function is never wrapped, an object never copied), so the call path stays plain.
 */
import { z } from 'zod';
import type { Clock } from './time.js';

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A function, kept as is (zod's own `z.function()` would wrap it). */
export function functionOption<T>(what = 'a function'): z.ZodType<T> {
  return z.custom<T>((v) => typeof v === 'function', { message: `must be ${what}` });
}

/** An object whose `methods` are all functions (on it or its prototype). */
export function objectWithMethods<T>(methods: readonly string[], what: string): z.ZodType<T> {
  return z.custom<T>((v) => isObject(v) && methods.every((m) => typeof v[m] === 'function'), { message: `must be ${what}` });
}

/** Any non-array object; its own checks happen where it is used (keys, streams). */
export function objectOption<T>(what: string): z.ZodType<T> {
  return z.custom<T>(isObject, { message: `must be ${what}` });
}

export const clockOption = functionOption<Clock>('a function returning ms since the epoch');



/** Seconds, or a string such as `"30s"`; its range is checked by `durationSeconds` where it is read. */
export const durationOption = z.union([z.number(), z.string()], { error: 'must be seconds or a string like "30s", "5m", "2h"' });

/** A positive number of ms up to `max`. */
export const msOption = (max: number): z.ZodNumber => z.number().positive().max(max);

