import { describe, expect, test } from 'vitest';
import { argumentSchema, UnsupportedSchemaError } from '../../src/gateway/json-schema.js';

const refusal = (schema: unknown): string => {
  try {
    argumentSchema(schema);
  } catch (err) {
    if (err instanceof UnsupportedSchemaError) return err.message;
    throw err;
  }
  throw new Error('accepted');
};

describe('upstream inputSchema → argument schema', () => {
  test('enforces what zod converts: types, required, bounds, enums, nested objects, local $ref', () => {
    const s = argumentSchema({
      type: 'object',
      properties: { path: { type: 'string', minLength: 1 }, depth: { type: 'integer', minimum: 0, maximum: 3 }, mode: { $ref: '#/$defs/mode' } },
      required: ['path'],
      $defs: { mode: { enum: ['r', 'w'] } },
    });
    expect(s.safeParse({ path: '/a', depth: 2, mode: 'r' }).success).toBe(true);
    expect(s.safeParse({ depth: 2 }).success).toBe(false);
    expect(s.safeParse({ path: '/a', depth: 9 }).success).toBe(false);
    expect(s.safeParse({ path: '/a', mode: 'x' }).success).toBe(false);
  });

  test('arguments the schema does not name are refused when it says nothing about other keys', () => {
    const closed = argumentSchema({ type: 'object', properties: { a: { type: 'string' } } });
    expect(closed.safeParse({ a: 'x', b: 'y' }).success).toBe(false);
    const open = argumentSchema({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: true });
    expect(open.safeParse({ a: 'x', b: 'y' }).success).toBe(true);
  });

  test('refuses what would not be enforced, naming where', () => {
    expect(refusal({ type: 'object', properties: { a: { type: 'string' } }, dependentRequired: { a: ['b'] } })).toBe(
      'inputSchema.dependentRequired: the keyword "dependentRequired" is not enforced, so the schema is refused',
    );
    expect(refusal({ type: 'object', properties: { a: { anyOf: [{ type: 'string', 'x-sensitive': true }] } } })).toBe(
      'inputSchema.properties.a.anyOf[0].x-sensitive: the keyword "x-sensitive" is not enforced, so the schema is refused',
    );
    expect(refusal({ type: 'object', properties: { a: { $ref: 'other.json#/a' } } })).toBe('inputSchema.properties.a.$ref: only local references (#/...) are supported');
    expect(refusal({ type: 'array' })).toBe('inputSchema.type: must be "object": a tool takes named arguments');
    expect(refusal({ type: 'object', properties: { a: { not: { type: 'string' } } } })).toBe('inputSchema: not is not supported in Zod (except { not: {} } for never)');
  });

  test('a property named like a keyword is a name, not a keyword', () => {
    const s = argumentSchema({ type: 'object', properties: { if: { type: 'string' }, format: { type: 'string' } }, required: ['if'] });
    expect(s.safeParse({ if: 'x', format: 'y' }).success).toBe(true);
  });

  test('bounds: at most 32 levels and 5,000 subschemas', () => {
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 40; i++) deep = { type: 'object', properties: { n: deep } };
    expect(refusal(deep)).toMatch(/: nested deeper than 32 levels$/);
    const wide = { type: 'object', properties: Object.fromEntries(Array.from({ length: 5001 }, (_, i) => [`p${i}`, { type: 'string' }])) };
    expect(refusal(wide)).toMatch(/: more than 5000 subschemas$/);
  });
});

describe('pattern is matched by RE2, never by a backtracking engine', () => {
  const nested = { type: 'object', properties: { name: { type: 'string', pattern: '^(a+)+$' }, tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' } } } };

  test('a catastrophic pattern for a backtracking engine answers at once', () => {
    const s = argumentSchema(nested);
    const start = performance.now();
    const r = s.safeParse({ name: `${'a'.repeat(5_000)}b` });
    expect(performance.now() - start).toBeLessThan(200);
    expect(r.success).toBe(false);
    expect(s.safeParse({ name: 'aaaa' }).success).toBe(true);
  });

  test('a pattern is a search, applied along properties and items, naming where it failed', () => {
    const s = argumentSchema({ type: 'object', properties: { q: { type: 'string', pattern: 'b' } } });
    expect(s.safeParse({ q: 'abc' }).success).toBe(true);
    expect(s.safeParse({ q: 'ac' }).success).toBe(false);
    // Longer than 4,096 characters never matches.
    expect(s.safeParse({ q: 'b'.repeat(4096) }).success).toBe(true);
    expect(s.safeParse({ q: 'b'.repeat(4097) }).success).toBe(false);
    const t = argumentSchema(nested).safeParse({ name: 'a', tags: ['ok', 'Not OK'] });
    expect(t.success ? [] : t.error.issues.map((i) => i.path)).toEqual([['tags', 1]]);
  });

  test('additionalProperties patterns apply to undeclared keys only', () => {
    const s = argumentSchema({ type: 'object', properties: { id: { type: 'string' } }, additionalProperties: { type: 'string', pattern: '^x' } });
    expect(s.safeParse({ id: 'y', other: 'x1' }).success).toBe(true);
    expect(s.safeParse({ id: 'y', other: 'y1' }).success).toBe(false);
  });

  test('refused: a pattern RE2 cannot run, a pattern where the value is ambiguous, patternProperties', () => {
    expect(refusal({ type: 'object', properties: { a: { type: 'string', pattern: '(a)\\1' } } })).toMatch(/^inputSchema\.properties\.a\.pattern: the pattern is not valid RE2 syntax/);
    expect(refusal({ type: 'object', properties: { a: { anyOf: [{ type: 'string', pattern: 'x' }] } } })).toBe(
      'inputSchema.properties.a.anyOf: a pattern inside "anyOf" is not supported (only along properties, additionalProperties and items)',
    );
    expect(refusal({ type: 'object', patternProperties: { '^x': { type: 'string' } } })).toBe(
      'inputSchema.patternProperties: the keyword "patternProperties" is not enforced, so the schema is refused',
    );
  });
});
