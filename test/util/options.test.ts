import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { closest, parseOptions } from '../../src/util/options.js';

const schema = z.strictObject({
  audience: z.string().min(1),
  spanMode: z.enum(['create', 'enrich']).optional(),
  timeouts: z.strictObject({ storeMs: z.number().int().positive().max(60_000).optional() }).optional(),
});

describe('parseOptions', () => {
  test('returns the parsed options', () => {
    expect(parseOptions(schema, { audience: 'a', timeouts: { storeMs: 5 } }, 'createGuard')).toEqual({ audience: 'a', timeouts: { storeMs: 5 } });
  });

  test('an unknown key is a TypeError naming it and the closest valid key', () => {
    expect(() => parseOptions(schema, { audience: 'a', spanmode: 'enrich' }, 'createGuard')).toThrow(
      new TypeError('createGuard: unknown option "spanmode" (did you mean "spanMode"?)'),
    );
  });

  test('an unknown nested key names its full path', () => {
    expect(() => parseOptions(schema, { audience: 'a', timeouts: { storMs: 5 } }, 'createGuard')).toThrow(
      new TypeError('createGuard: unknown option "timeouts.storMs" (did you mean "timeouts.storeMs"?)'),
    );
  });

  test('a key far from every valid one gets no suggestion', () => {
    expect(() => parseOptions(schema, { audience: 'a', wholly: 1 }, 'createGuard')).toThrow(new TypeError('createGuard: unknown option "wholly"'));
  });

  test('a number out of range is a RangeError naming the option', () => {
    const err = (() => {
      try {
        parseOptions(schema, { audience: 'a', timeouts: { storeMs: 0 } }, 'createGuard');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/^createGuard\.timeouts\.storeMs: /);
  });

  test('a number that is fractional, NaN or infinite where an integer is wanted is a RangeError', () => {
    for (const storeMs of [1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => parseOptions(schema, { audience: 'a', timeouts: { storeMs } }, 'createGuard')).toThrow(RangeError);
    }
  });

  test('a number where a string is wanted is a TypeError, not a RangeError', () => {
    expect(() => parseOptions(schema, { audience: 'a', spanMode: 1 }, 'createGuard')).toThrow(TypeError);
    expect(() => parseOptions(schema, { audience: 'a', spanMode: 1 }, 'createGuard')).not.toThrow(RangeError);
  });

  test('an unknown key inside a list names its index and the closest valid key', () => {
    const list = z.strictObject({ trust: z.array(z.strictObject({ issuer: z.string() })).optional() });
    expect(() => parseOptions(list, { trust: [{ issuer: 'a' }, { issuer: 'b', isuer: 'c' }] }, 'createGuard')).toThrow(
      new TypeError('createGuard: unknown option "trust.1.isuer" (did you mean "trust.1.issuer"?)'),
    );
  });

  test('a wrong type is a TypeError naming the option', () => {
    expect(() => parseOptions(schema, { audience: 'a', spanMode: 'enrch' }, 'createGuard')).toThrow(TypeError);
    expect(() => parseOptions(schema, { audience: 'a', spanMode: 'enrch' }, 'createGuard')).toThrow(/^createGuard\.spanMode: /);
  });

  test('something other than an object is refused before parsing', () => {
    for (const value of [undefined, null, 'x', 1, []]) {
      expect(() => parseOptions(schema, value, 'createGuard')).toThrow(new TypeError('createGuard needs an options object'));
    }
  });
});

describe('closest', () => {
  test('finds a one-letter typo and ignores case', () => {
    expect(closest('prefx', ['prefix', 'client'])).toBe('prefix');
    expect(closest('TIMEOUTMS', ['timeoutMs'])).toBe('timeoutMs');
    expect(closest('zzz', ['prefix', 'client'])).toBeUndefined();
  });
});
