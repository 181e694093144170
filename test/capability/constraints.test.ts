import { describe, expect, test } from 'vitest';
import { argConstraintSchema, compileConstraint, type ArgConstraint } from '../../src/capability/constraints.js';
import { patternProblem } from '../../src/capability/pattern.js';

const check = (c: ArgConstraint, v: unknown) => compileConstraint(argConstraintSchema.parse(c))(v, 'x');
const ok = (c: ArgConstraint, v: unknown) => expect(check(c, v)).toBeUndefined();
const no = (c: ArgConstraint, v: unknown) => expect(check(c, v)).toMatch(/^x[ .\[]/);

describe('constraints', () => {
  test('eq is exact: same type, same code points', () => {
    ok({ eq: '4711' }, '4711');
    no({ eq: '4711' }, 4711);
    no({ eq: 1 }, '1');
    no({ eq: true }, 'true');
    no({ eq: 'café' }, 'cafe\u0301'); // NFD look-alike of NFC "café"
  });

  test('in accepts only listed values of the same type', () => {
    ok({ in: ['a', 'b'] }, 'b');
    no({ in: ['a', 'b'] }, 'c');
    no({ in: [1, 2] }, '1');
  });

  test('startsWith / endsWith are case-sensitive and refuse non-strings', () => {
    ok({ endsWith: '@example.com' }, 'a@example.com');
    no({ endsWith: '@example.com' }, 'a@EXAMPLE.COM');
    no({ endsWith: '@example.com' }, 'a@example.com.');
    no({ endsWith: '@example.com' }, 'a@example.com\u200b');
    no({ endsWith: '@example.com' }, 'a@exаmple.com'); // Cyrillic а
    no({ endsWith: '@example.com' }, ['a@example.com']);
    ok({ startsWith: 'reports/' }, 'reports/q3');
    no({ startsWith: 'reports/' }, 'Reports/q3');
  });

  test('min / max need a finite number, not a numeric string', () => {
    ok({ min: 0, max: 100 }, 100);
    no({ min: 0, max: 100 }, 100.5);
    no({ min: 0, max: 100 }, '50');
    no({ min: 0 }, Number.NaN);
    no({ max: 10 }, Number.NEGATIVE_INFINITY);
    no({ min: 0, max: 100 }, -1);
  });

  test('maxLength counts strings and arrays', () => {
    ok({ maxLength: 3 }, 'abc');
    no({ maxLength: 3 }, 'abcd');
    ok({ maxLength: 2 }, [1, 2]);
    no({ maxLength: 2 }, { length: 1 });
  });

  test('pattern matches the whole value', () => {
    ok({ pattern: '[A-Z]{3}-\\d{4}' }, 'ABC-1234');
    no({ pattern: '[A-Z]{3}-\\d{4}' }, 'xABC-1234');
    no({ pattern: '[A-Z]{3}-\\d{4}' }, 'ABC-1234\n');
    no({ pattern: 'a|b' }, 'ab');
  });

  test('patterns outside RE2 syntax are refused when the grant is made', () => {
    for (const p of ['(a)\\1', '\\k<x>', '(?=a)a', '(?!a)b', '(?<=a)b', '(?<!a)b', 'a{1,5000}', '(']) {
      expect(patternProblem(p), p).toBeTypeOf('string');
      expect(argConstraintSchema.safeParse({ pattern: p }).success, p).toBe(false);
    }
    for (const p of ['[a-z]+', '(?:ab)?c', '(?:abc){2}', '\\d{1,10}', '(?<year>\\d{4})-\\d{2}', '(a+)+', '(a|a)*']) {
      expect(patternProblem(p), p).toBeUndefined();
    }
  });

  test('pathWithin resolves and refuses traversal, encoded separators, backslashes and NUL', () => {
    const c = { pathWithin: '/srv/data' };
    ok(c, '/srv/data/reports/q3.csv');
    no(c, 'reports/q3.csv');
    ok(c, '/srv/data//reports///q3.csv');
    ok(c, '/srv/data');
    no(c, '/srv/data/../etc/passwd');
    no(c, '../etc/passwd');
    no(c, 'reports/../../etc/passwd');
    no(c, '/srv/database/x');
    no(c, '/srv/data%2f..%2f..%2fetc');
    no(c, '/srv/data/%2e%2e/etc');
    no(c, '/srv/data/..\\..\\etc');
    no(c, '/srv/data/x\0.txt');
    no(c, '');
    no(c, 42);
  });

  test('pathWithin must be given as an absolute, normalized path', () => {
    for (const p of ['srv/data', '/srv/../data', '/srv/data/', '/srv//data']) {
      expect(argConstraintSchema.safeParse({ pathWithin: p }).success, p).toBe(false);
    }
  });

  test('hostIn checks scheme and exact host; subdomains only with *.', () => {
    const c = { hostIn: ['api.example.com', '*.cdn.example.com'] };
    ok(c, 'https://api.example.com/v1');
    no(c, 'https://API.EXAMPLE.COM/v1'); // hosts are compared as written, never case-folded
    ok(c, 'https://img.cdn.example.com/x.png');
    no(c, 'https://cdn.example.com/x.png');
    no(c, 'http://api.example.com/v1');
    no(c, 'https://api.example.com.evil.com/');
    no(c, 'https://api.example.com./');
    no(c, 'https://evil.com/?https://api.example.com');
    no(c, 'https://api.example.com@evil.com/');
    no(c, 'https://user:pw@api.example.com/');
    no(c, 'https://аpi.example.com/'); // Cyrillic а becomes punycode
    no(c, '//api.example.com/');
    no(c, 'javascript:alert(1)');
    ok({ hostIn: ['api.example.com'], schemes: ['https', 'wss'] }, 'wss://api.example.com/socket');
  });

  test('fields and items constrain nested values; a constrained value must be present unless optional', () => {
    const c: ArgConstraint = {
      fields: { owner: { eq: 'team-a' }, note: { maxLength: 5, optional: true } },
    };
    ok(c, { owner: 'team-a' });
    ok(c, { owner: 'team-a', note: 'hi' });
    no(c, { owner: 'team-b' });
    no(c, { note: 'hi' });
    no(c, { owner: 'team-a', note: 'too long' });
    no(c, [{ owner: 'team-a' }]);
    const items: ArgConstraint = { items: { endsWith: '@example.com' }, maxLength: 3 };
    ok(items, ['a@example.com', 'b@example.com']);
    no(items, ['a@example.com', 'b@evil.com']);
    no(items, ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com']);
    no(items, 'a@example.com');
  });

  test('inherited properties never satisfy a field constraint', () => {
    const c: ArgConstraint = { fields: { role: { eq: 'admin' } } };
    const obj = Object.create({ role: 'admin' }) as Record<string, unknown>;
    no(c, obj);
  });

  test('schema refuses unknown rules, empty constraints, inverted ranges and bad hosts', () => {
    expect(argConstraintSchema.safeParse({ startWith: 'a' }).success).toBe(false);
    expect(argConstraintSchema.safeParse({}).success).toBe(false);
    expect(argConstraintSchema.safeParse({ optional: true }).success).toBe(false);
    expect(argConstraintSchema.safeParse({ min: 5, max: 1 }).success).toBe(false);
    expect(argConstraintSchema.safeParse({ hostIn: ['Example.com'] }).success).toBe(false);
    expect(argConstraintSchema.safeParse({ hostIn: ['example.com.'] }).success).toBe(false);
    expect(argConstraintSchema.safeParse({ schemes: ['https'] }).success).toBe(false);
    expect(argConstraintSchema.safeParse({ maxLength: -1 }).success).toBe(false);
  });
});
