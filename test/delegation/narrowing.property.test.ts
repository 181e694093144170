/**
 * Property-based tests of narrowing. Seeds are fixed so a failure reproduces; fast-check prints
 * the seed and the shrunk counterexample.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { ToolGrant } from '../../src/capability/claims.js';
import { compileConstraint, compileFields } from '../../src/capability/constraints.js';
import { constraintWithin } from '../../src/capability/subsumption.js';
import { CapabilityError } from '../../src/index.js';
import { constraint, derived, valuesFor } from './arbitraries.js';
import { RESEARCHER, setupChain, unpack } from './chain-fixtures.js';


describe('constraintWithin is sound', () => {
  test('whenever a child is judged within its parent, every value the child accepts the parent accepts', () => {
    let proven = 0;
    fc.assert(
      fc.property(
        constraint().chain((parent) => fc.tuple(fc.constant(parent), fc.oneof({ arbitrary: derived(parent), weight: 4 }, { arbitrary: constraint(), weight: 1 }))).chain(([parent, child]) =>
          fc.tuple(fc.constant(parent), fc.constant(child), valuesFor(parent, child)),
        ),
        ([parent, child, values]) => {
          if (constraintWithin(child, parent, 'v') !== undefined) return;
          const own = compileConstraint(child);
          const theirs = compileConstraint(parent);
          let accepted = false;
          for (const v of values) {
            if (own(v, 'v') !== undefined) continue;
            accepted = true;
            expect(theirs(v, 'v'), JSON.stringify(v)).toBeUndefined();
          }
          if (accepted) proven++;
        },
      ),
      { seed: 20261128, numRuns: 6000 },
    );
    // The generators must exercise the accepting branch, not only refusals.
    expect(proven).toBeGreaterThan(800);
  }, 120_000);

  test('a constraint is always within itself, and nothing widens beyond its parent by dropping it', () => {
    fc.assert(
      fc.property(constraint(), (c) => {
        expect(constraintWithin(c, c, 'v')).toBeUndefined();
        expect(constraintWithin(undefined, c, 'v')).toMatch(/^v: no constraint is not within /);
      }),
      { seed: 7, numRuns: 1000 },
    );
  });
});

const TOOL_NAMES = ['tickets.read', 'email.send', 'files.read'] as const;
const grant = (depth: number): fc.Arbitrary<ToolGrant> =>
  fc
    .record({ args: fc.record({ x: constraint(depth), y: constraint(depth) }, { requiredKeys: [] }), maxCalls: fc.integer({ min: 1, max: 5 }) }, { requiredKeys: [] })
    .map((g) => JSON.parse(JSON.stringify(g)) as ToolGrant);

const parentTools = fc
  .subarray([...TOOL_NAMES], { minLength: 1 })
  .chain((names) => fc.tuple(...names.map((n) => grant(1).map((g) => [n, g] as const))))
  .map((entries) => Object.fromEntries(entries) as Record<string, ToolGrant>);

function childTools(parent: Record<string, ToolGrant>): fc.Arbitrary<Record<string, ToolGrant>> {
  const one = (name: string): fc.Arbitrary<readonly [string, ToolGrant]> => {
    const p = parent[name];
    if (p === undefined) return grant(1).map((g) => [name, g] as const);
    const args = fc.record(
      Object.fromEntries(Object.entries(p.args ?? {}).map(([k, c]) => [k, fc.oneof({ arbitrary: derived(c, 1), weight: 8 }, { arbitrary: fc.constant(undefined), weight: 1 })])),
      { requiredKeys: [] },
    );
    const maxCalls =
      p.maxCalls === undefined
        ? fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined })
        : fc.oneof({ arbitrary: fc.integer({ min: 1, max: p.maxCalls }), weight: 6 }, fc.constant(p.maxCalls + 1), fc.constant(undefined));
    return fc.record({ args, maxCalls }, { requiredKeys: [] }).map((g) => [name, JSON.parse(JSON.stringify(g)) as ToolGrant] as const);
  };
  const names = fc.oneof({ arbitrary: fc.subarray(Object.keys(parent), { minLength: 1 }), weight: 6 }, fc.subarray([...TOOL_NAMES], { minLength: 1 }));
  return names
    .chain((ns) => fc.tuple(...ns.map(one)))
    .map((entries) => Object.fromEntries(entries));
}

describe('delegate() and the guard agree, end to end', () => {
  test('delegate either refuses or produces a child the guard verifies, and no call the child allows is outside its parent', async () => {
    const s = await setupChain();
    let produced = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        parentTools.chain((p) => fc.tuple(fc.constant(p), childTools(p))).chain(([p, c]) =>
          fc.tuple(fc.constant(p), fc.constant(c), valuesFor(...Object.values(p).flatMap((g) => Object.values(g.args ?? {})))),
        ),
        async ([parentGrant, request, values]) => {
          const parent = await s.root(parentGrant);
          let child: string;
          try {
            child = await s.child(parent, s.keys.planner, { to: RESEARCHER, tools: request });
          } catch (err) {
            expect(err).toBeInstanceOf(CapabilityError);
            expect((err as CapabilityError).code).toBe('delegation_invalid');
            refused++;
            return;
          }
          produced++;
          const verified = await s.guard.inspect(child);
          expect(verified.chain.depth).toBe(1);
          const claims = unpack(child).payload.tools as Record<string, ToolGrant>;
          for (const [tool, g] of Object.entries(claims)) {
            const p = parentGrant[tool];
            expect(p).toBeDefined();
            if (p!.maxCalls !== undefined) expect(g.maxCalls).toBeLessThanOrEqual(p!.maxCalls);
            const own = compileFields(g.args ?? {});
            const theirs = compileFields(p!.args ?? {});
            for (const x of values) {
              for (const y of values.slice(0, 12)) {
                const call = { x, y } as Record<string, unknown>;
                if (own(call, '') === undefined) expect(theirs(call, ''), JSON.stringify(call)).toBeUndefined();
              }
            }
          }
        },
      ),
      { seed: 42, numRuns: 400 },
    );
    expect(produced).toBeGreaterThan(40);
    expect(refused).toBeGreaterThan(40);
  }, 120_000);
});
