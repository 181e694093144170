/** fast-check generators for grants, narrowed (or widened) children and the values calls carry. */
import fc from 'fast-check';
import type { ArgConstraint } from '../../src/capability/constraints.js';

const STRINGS = ['', 'a', 'ab', 'abc', 'b', 'ops', 'ops@example.com', 'x@example.com', 'x@evil.com', '@example.com', '/data', '/data/x', '/data/x/f', '/srv/f', 'sub/../../x', '../x', 'f', 'https://a.example.com/p', 'https://example.com/', 'http://a.example.com/', 'https://b.a.example.com/', 'https://evil.com/'];
const literal = fc.oneof(fc.constantFrom(...STRINGS), fc.integer({ min: -3, max: 12 }), fc.boolean());
const prefix = fc.constantFrom('a', 'ab', 'o', 'ops', '/data', '/data/x', 'https://');
const suffix = fc.constantFrom('@example.com', 'example.com', 'b', '.com', 'f');
const pattern = fc.constantFrom('[a-z]+', 'a[a-z]*', '[a-z@.]+', 'ab?c?');
const root = fc.constantFrom('/', '/data', '/data/x', '/srv');
const hosts = fc.subarray(['example.com', 'a.example.com', '*.example.com', '*.a.example.com', 'evil.com'], { minLength: 1 });
const schemes = fc.option(fc.subarray(['https', 'http'], { minLength: 1 }), { nil: undefined });

/** The schema's own refinements (at least one rule, min <= max, schemes with hostIn), cheaply. */
/** Mostly absent: a child that adds a rule is narrower, but piling rules on makes empty sets. */
const rarely = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.oneof({ arbitrary: fc.constant(undefined), weight: 9 }, { arbitrary: a, weight: 1 });

const valid = (c: ArgConstraint): boolean =>
  Object.keys(c).some((k) => k !== 'optional') &&
  (c.min === undefined || c.max === undefined || c.min <= c.max) &&
  (c.schemes === undefined || c.hostIn !== undefined) &&
  (c.unsafeAllowRelative === undefined || c.pathWithin !== undefined);

const built = new Map<number, fc.Arbitrary<ArgConstraint>>();

/** Any valid constraint of one or two rules (more rules mostly make empty sets), nested up to `depth`. */
export function constraint(depth = 2): fc.Arbitrary<ArgConstraint> {
  const hit = built.get(depth);
  if (hit !== undefined) return hit;
  const rules: fc.Arbitrary<ArgConstraint>[] = [
    literal.map((eq) => ({ eq })),
    fc.array(literal, { minLength: 1, maxLength: 4 }).map((xs) => ({ in: xs })),
    prefix.map((startsWith) => ({ startsWith })),
    suffix.map((endsWith) => ({ endsWith })),
    fc.integer({ min: -3, max: 8 }).map((min) => ({ min })),
    fc.integer({ min: 0, max: 12 }).map((max) => ({ max })),
    fc.integer({ min: 0, max: 8 }).map((maxLength) => ({ maxLength })),
    pattern.map((p) => ({ pattern: p })),
    fc.tuple(root, fc.boolean()).map(([pathWithin, relative]) => (relative ? { pathWithin, unsafeAllowRelative: true } : { pathWithin })),
    fc.tuple(hosts, schemes).map(([hostIn, s]) => (s === undefined ? { hostIn } : { hostIn, schemes: s })),
  ];
  if (depth > 0) {
    const nested = constraint(depth - 1);
    rules.push(
      fc.record({ a: nested, b: nested }, { requiredKeys: [] }).map((fields) => ({ fields })),
      nested.map((items) => ({ items })),
    );
  }
  const one = fc.oneof(...rules);
  const arb = fc
    .tuple(one, fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: one, weight: 2 }), fc.boolean())
    .map(([a, b, optional]) => JSON.parse(JSON.stringify({ ...a, ...(b ?? {}), ...(optional ? { optional } : {}) })) as ArgConstraint)
    .filter(valid);
  built.set(depth, arb);
  return arb;
}

/** A child derived from `parent`: mostly tightened rule by rule, sometimes with rules added or loosened. */
export function derived(parent: ArgConstraint, depth = 2): fc.Arbitrary<ArgConstraint> {
  const tweak = <T>(keep: T, alternatives: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
    fc.oneof({ arbitrary: fc.constant(keep), weight: 4 }, { arbitrary: alternatives, weight: 4 }, { arbitrary: fc.constant(undefined), weight: 1 });
  const p = parent;
  const parts: Record<string, fc.Arbitrary<unknown>> = {
    eq: p.eq === undefined ? rarely(literal) : tweak(p.eq, literal),
    in: p.in === undefined ? fc.constant(undefined) : tweak(p.in, fc.subarray(p.in, { minLength: 1 })),
    startsWith: p.startsWith === undefined ? rarely(prefix) : tweak(p.startsWith, fc.oneof(prefix, fc.constantFrom(`${p.startsWith}a`, `${p.startsWith}/`))),
    endsWith: p.endsWith === undefined ? fc.constant(undefined) : tweak(p.endsWith, fc.oneof(suffix, fc.constant(`x${p.endsWith}`))),
    min: p.min === undefined ? fc.constant(undefined) : tweak(p.min, fc.integer({ min: p.min - 2, max: p.min + 3 })),
    max: p.max === undefined ? fc.constant(undefined) : tweak(p.max, fc.integer({ min: p.max - 3, max: p.max + 2 })),
    maxLength: p.maxLength === undefined ? rarely(fc.integer({ min: 0, max: 8 })) : tweak(p.maxLength, fc.integer({ min: 0, max: p.maxLength + 2 })),
    pattern: p.pattern === undefined ? fc.constant(undefined) : tweak(p.pattern, pattern),
    pathWithin: p.pathWithin === undefined ? fc.constant(undefined) : tweak(p.pathWithin, fc.oneof(root, fc.constant(p.pathWithin === '/' ? '/data' : `${p.pathWithin}/x`))),
    hostIn: p.hostIn === undefined ? fc.constant(undefined) : tweak(p.hostIn, fc.oneof(hosts, fc.subarray(p.hostIn, { minLength: 1 }))),
    schemes: p.hostIn === undefined ? fc.constant(undefined) : tweak(p.schemes, schemes),
    unsafeAllowRelative: p.pathWithin === undefined ? fc.constant(undefined) : fc.constantFrom(p.unsafeAllowRelative, true, undefined),
    fields:
      p.fields === undefined || depth === 0
        ? fc.constant(undefined)
        : fc.record(
            Object.fromEntries(Object.entries(p.fields).map(([k, c]) => [k, fc.oneof({ arbitrary: derived(c, depth - 1), weight: 8 }, { arbitrary: fc.constant(undefined), weight: 1 })])),
            { requiredKeys: [] },
          ),
    items: p.items === undefined || depth === 0 ? fc.constant(undefined) : fc.oneof({ arbitrary: derived(p.items, depth - 1), weight: 8 }, { arbitrary: fc.constant(undefined), weight: 1 }),
    optional: p.optional === true ? fc.boolean() : fc.constantFrom(undefined, undefined, undefined, undefined, undefined, true),
  };
  return fc
    .record(parts, { requiredKeys: [] })
    .map((c) => JSON.parse(JSON.stringify(c)) as ArgConstraint)
    .filter(valid);
}

function literalsOf(c: ArgConstraint | undefined, out: unknown[]): void {
  if (c === undefined) return;
  if (c.eq !== undefined) out.push(c.eq);
  if (c.in) out.push(...c.in);
  if (c.startsWith !== undefined) out.push(c.startsWith, `${c.startsWith}z`, `${c.startsWith}/../..`);
  if (c.endsWith !== undefined) out.push(c.endsWith, `z${c.endsWith}`);
  if (c.min !== undefined) out.push(c.min, c.min - 1);
  if (c.max !== undefined) out.push(c.max, c.max + 1);
  if (c.pathWithin !== undefined) out.push(c.pathWithin, `${c.pathWithin}/f`, `${c.pathWithin}/../x`, 'f', 'sub/../../x', './f', 'sub/f');
  if (c.hostIn) for (const h of c.hostIn) out.push(`https://${h.replace('*', 'q')}/`, `http://${h.replace('*', 'q')}/`);
  if (c.fields) for (const f of Object.values(c.fields)) literalsOf(f, out);
  literalsOf(c.items, out);
}

/** Values a call might carry for an argument: literals from both constraints, composites, absence. */
export function valuesFor(...cs: (ArgConstraint | undefined)[]): fc.Arbitrary<unknown[]> {
  const lits: unknown[] = [...STRINGS, undefined];
  for (const c of cs) literalsOf(c, lits);
  const scalar = fc.oneof(fc.constantFrom(...lits), literal);
  const value = fc.oneof(
    { arbitrary: scalar, weight: 6 },
    { arbitrary: fc.array(scalar, { maxLength: 3 }), weight: 1 },
    { arbitrary: fc.record({ a: scalar, b: scalar }, { requiredKeys: [] }), weight: 2 },
    { arbitrary: fc.array(fc.record({ a: scalar, b: scalar }, { requiredKeys: [] }), { maxLength: 2 }), weight: 1 },
  );
  return fc.array(value, { minLength: 10, maxLength: 40 }).map((vs) => [...vs, ...lits]);
}
