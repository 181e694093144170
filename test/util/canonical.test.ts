import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { canonicalJson, hashArguments, NotJsonError } from '../../src/util/canonical.js';

/** A reference RFC 8785 writer, as plain as possible: the implementation must agree with it byte for byte. */
function referenceJcs(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Object.is(value, -0) ? '0' : String(value);
  if (typeof value === 'string') {
    let out = '"';
    for (const ch of value) {
      const c = ch.codePointAt(0)!;
      if (ch === '"') out += '\\"';
      else if (ch === '\\') out += '\\\\';
      else if (c === 0x08) out += '\\b';
      else if (c === 0x09) out += '\\t';
      else if (c === 0x0a) out += '\\n';
      else if (c === 0x0c) out += '\\f';
      else if (c === 0x0d) out += '\\r';
      else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`;
      else if (c >= 0xd800 && c <= 0xdfff) out += `\\u${c.toString(16)}`; // a lone surrogate, as JSON.stringify writes it
      else out += ch;
    }
    return `${out}"`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => referenceJcs(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  // Sort by UTF-16 code units, compared one by one.
  keys.sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = a.charCodeAt(i) - b.charCodeAt(i);
      if (d !== 0) return d;
    }
    return a.length - b.length;
  });
  return `{${keys.map((k) => `${referenceJcs(k)}:${referenceJcs(obj[k])}`).join(',')}}`;
}

describe('RFC 8785 examples', () => {
  test('3.2.2: numbers, strings and literals', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  test('3.2.3: property sorting by UTF-16 code units', () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    );
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  test('appendix B: number serialisation', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [-0, '0'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [9007199254740992, '9007199254740992'],
      [295147905179352830000, '295147905179352830000'],
      [1e21, '1e+21'],
      [1e-7, '1e-7'],
      [0.000001, '0.000001'],
    ];
    for (const [n, text] of cases) expect(canonicalJson([n])).toBe(`[${text}]`);
  });
});

describe('every path writes the same bytes', () => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.string({ unit: 'binary' }),
      fc.string(),
      fc.array(tie('value'), { maxLength: 5 }),
      fc.dictionary(fc.oneof(fc.string({ unit: 'binary', maxLength: 4 }), fc.constantFrom('1', '10', '2', 'a', 'b', '')), tie('value'), { maxKeys: 6 }),
      fc.dictionary(fc.string({ maxLength: 3 }), tie('value'), { maxKeys: 4, noNullPrototype: false }),
    ),
  })).value;

  test('canonicalJson equals the reference writer, and hashArguments is SHA-256 of it (fast-check)', () => {
    fc.assert(
      fc.property(json, (v) => {
        const expected = referenceJcs(v);
        expect(canonicalJson(v)).toBe(expected);
        expect(hashArguments(v)).toBe(createHash('sha256').update(expected, 'utf8').digest('base64url'));
      }),
      { numRuns: 1500 },
    );
  });

  test('keys already in order, keys out of order, and many distinct keys all agree with the reference', () => {
    const sorted = { a: 1, b: [{ c: 'x', d: null }], e: { f: true } };
    const unsorted = { e: { f: true }, b: [{ d: null, c: 'x' }], a: 1 };
    expect(canonicalJson(sorted)).toBe(referenceJcs(sorted));
    expect(canonicalJson(unsorted)).toBe(canonicalJson(sorted));
    // Many objects each with its own keys: the general writer, by the quadratic guard.
    const wide = Array.from({ length: 300 }, (_, i) => ({ [`k${i}`]: i, z: i, a: -i }));
    expect(canonicalJson(wide)).toBe(referenceJcs(wide));
    // A large value goes through the hash in pieces; the digest is the same.
    const big = { rows: Array.from({ length: 5000 }, (_, i) => ({ id: i, name: `n${i}`, toJSON: undefined })) };
    expect(hashArguments({ toJSON: () => big })).toBe(createHash('sha256').update(referenceJcs(big)).digest('base64url'));
  });
});

describe('the fast path never changes what is written', () => {
  test('a key that Object.prototype answers ("__proto__", or a polluted one) is written only where it is an own key', () => {
    const own = JSON.parse('[{"__proto__":{"x":1}},{"a":2}]') as unknown;
    expect(canonicalJson(own)).toBe('[{"__proto__":{"x":1}},{"a":2}]');
    const polluted = Object.prototype as Record<string, unknown>;
    polluted.injected = 'yes';
    try {
      const v = [{ injected: 'mine' }, { b: 1 }];
      expect(canonicalJson(v)).toBe('[{"injected":"mine"},{"b":1}]');
    } finally {
      delete polluted.injected;
    }
  });

  test('class instances, toJSON and boxed values take the general writer, as before', () => {
    expect(canonicalJson({ when: new Date(0) })).toBe('{"when":"1970-01-01T00:00:00.000Z"}');
    // eslint-disable-next-line no-new-wrappers
    expect(canonicalJson({ s: new String('ab') })).toBe('{"s":{"0":"a","1":"b"}}');
    class Point {
      constructor(readonly y: number, readonly x: number) {}
    }
    expect(canonicalJson(new Point(2, 1))).toBe('{"x":1,"y":2}');
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
    expect(canonicalJson(nullProto)).toBe('{"a":2,"b":1}');
  });

  test('what is not JSON is refused with NotJsonError', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(NotJsonError);
    expect(() => canonicalJson({ a: Infinity })).toThrow('non-finite');
    expect(() => canonicalJson({ f: () => 1 })).toThrow('function');
    expect(() => canonicalJson({ n: 1n })).toThrow('bigint');
    expect(() => canonicalJson(undefined)).toThrow(NotJsonError);
    let deep: unknown = 1;
    for (let i = 0; i < 66; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow('deeper than 64');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => hashArguments(cyclic)).toThrow(NotJsonError);
  });
});

describe('one object of plain members (most tool arguments) is written as the reference writes it', () => {
  test('members out of order, with null, flags, numbers and an undefined member', () => {
    const v = { to: 'ann@example.com', retries: 2, urgent: false, note: null, skipped: undefined, amount: -0.5 };
    expect(canonicalJson(v)).toBe('{"amount":-0.5,"note":null,"retries":2,"to":"ann@example.com","urgent":false}');
    expect(canonicalJson(v)).toBe(referenceJcs(v));
  });

  test('integer-like keys sort as strings, not first as object property order would put them', () => {
    const v = { b: 1, '10': 2, '9': 3, a: 4 };
    expect(canonicalJson(v)).toBe('{"10":2,"9":3,"a":4,"b":1}');
  });

  test('an own "__proto__" member and members named like Object.prototype methods are written as data', () => {
    const own = JSON.parse('{"b":1,"__proto__":2}') as unknown;
    expect(canonicalJson(own)).toBe('{"__proto__":2,"b":1}');
    expect(canonicalJson({ valueOf: 'v', toString: 't', a: 1 })).toBe('{"a":1,"toString":"t","valueOf":"v"}');
  });

  test('a polluted Object.prototype adds nothing', () => {
    const polluted = Object.prototype as Record<string, unknown>;
    polluted.injected = 'yes';
    try {
      expect(canonicalJson({ c: 1, a: 2 })).toBe('{"a":2,"c":1}');
    } finally {
      delete polluted.injected;
    }
  });

  test('keys sort by UTF-16 code units (RFC 8785 3.2.3), outside the BMP included', () => {
    const v = { '\uFFFF': 5, é: 1, z: 2, '\u{1F600}': 4, Z: 3 };
    expect(canonicalJson(v)).toBe('{"Z":3,"z":2,"é":1,"\u{1F600}":4,"\uFFFF":5}');
    expect(canonicalJson(v)).toBe(referenceJcs(v));
  });

  test('a large flat object (past the insertion sort) sorts the same', () => {
    const v = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${(1000 - i).toString(36)}`, i]));
    expect(canonicalJson(v)).toBe(referenceJcs(v));
  });

  test('a non-finite number is still refused', () => {
    expect(() => hashArguments({ b: 1, a: Number.NaN })).toThrow(NotJsonError);
    expect(() => hashArguments({ b: 1, a: -Infinity })).toThrow('non-finite');
  });

  test('any flat object agrees with the reference writer (fast-check)', () => {
    const member = fc.oneof(fc.constant(null), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.string({ unit: 'binary' }), fc.constant(undefined));
    const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('1', '10', '2', '__proto__', 'toString', 'a', 'B', ''));
    fc.assert(
      fc.property(fc.array(fc.tuple(key, member), { maxLength: 12 }), (pairs) => {
        const v: Record<string, unknown> = {};
        for (const [k, m] of pairs) Object.defineProperty(v, k, { value: m, enumerable: true, writable: true, configurable: true });
        const expected = referenceJcs(v);
        expect(canonicalJson(v)).toBe(expected);
        expect(hashArguments(v)).toBe(createHash('sha256').update(expected, 'utf8').digest('base64url'));
      }),
      { numRuns: 2000 },
    );
  });
});
