/**
 * Property: for any grant and any calls it allowed, the advised grant allows every one of those
 * calls again, and is never wider than the grant (decided by the same subsumption check that
 * decides delegation).
 *
 * Values are drawn in the forms the evidence describes exactly: absolute paths already
 * normalised, URLs with lowercase hosts. A path the guard would have to normalise, or a URL whose
 * host `new URL()` rewrites, records the rewritten form, and the advice is derived from that (see
 * docs/advise.md).
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { createAdvisor, type GrantSpec } from '../../src/advise/advisor.js';
import { compileConstraint, compileFields, type ArgConstraint } from '../../src/capability/constraints.js';
import { toolsWithin } from '../../src/capability/subsumption.js';
import { constraint } from '../delegation/arbitraries.js';
import { AGENT, call, PURPOSE } from './support.js';

const segment = fc.constantFrom('data', 'x', 'srv', 'f', 'reports');
const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`);
const host = fc.constantFrom('example.com', 'a.example.com', 'b.a.example.com', 'evil.com', '192.0.2.1');
const url = fc.tuple(fc.constantFrom('https', 'http'), host, fc.constantFrom('', 'p', 'a/b')).map(([s, h, p]) => `${s}://${h}/${p}`);
const email = fc.tuple(fc.constantFrom('ann', 'ops', 'x'), fc.constantFrom('example.com', 'evil.com', 'a.example.com')).map(([u, d]) => `${u}@${d}`);
const plain = fc.constantFrom('', 'a', 'ab', 'abc', 'b', 'ops', '4711', 'f', '@example.com', 'sub/../../x', '../x', './y');
const scalarValue = fc.oneof(path, url, email, plain, fc.integer({ min: -3, max: 12 }), fc.double({ min: -5, max: 20, noNaN: true }), fc.boolean(), fc.constant(null));
const value = fc.oneof({ arbitrary: scalarValue, weight: 6 }, { arbitrary: fc.array(scalarValue, { maxLength: 4 }), weight: 1 }, { arbitrary: fc.constant(undefined), weight: 1 });

const ARGS = ['a', 'b'] as const;

const scenario = fc.record({
  grants: fc.record({ a: constraint(1), b: constraint(1) }, { requiredKeys: [] }),
  maxCalls: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  ttl: fc.option(fc.integer({ min: 60, max: 7200 }), { nil: undefined }),
  calls: fc.array(
    fc.record({
      args: fc.record({ a: value, b: value }),
      cap: fc.constantFrom('cap-1', 'cap-2', 'cap-3'),
      intent: fc.constantFrom('i-1', 'i-2'),
      at: fc.integer({ min: 0, max: 3_600_000 }),
    }),
    { minLength: 1, maxLength: 25 },
  ),
  unusedTool: fc.boolean(),
});

test('the advised grant allows every call the grant allowed, and is never wider than the grant', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const tools: GrantSpec['tools'] = { tool: { args: s.grants as Record<string, ArgConstraint>, ...(s.maxCalls === undefined ? {} : { maxCalls: s.maxCalls }) } };
      if (s.unusedTool) tools.other = {};
      const recorded: GrantSpec = { agent: AGENT, intent: { id: 'i-1', purpose: PURPOSE }, tools, ...(s.ttl === undefined ? {} : { ttl: s.ttl }) };
      const check = compileFields(s.grants as Record<string, ArgConstraint>);
      const strip = (args: Record<string, unknown>) => Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
      // The calls the grant allowed, within its call budget per intent.
      const perIntent = new Map<string, number>();
      const allowed = s.calls.filter((c) => {
        if (check(strip(c.args), '') !== undefined) return false;
        const n = (perIntent.get(c.intent) ?? 0) + 1;
        if (s.maxCalls !== undefined && n > s.maxCalls) return false;
        perIntent.set(c.intent, n);
        return true;
      });
      fc.pre(allowed.length > 0);
      const advisor = createAdvisor({ grants: [recorded] });
      for (const c of allowed) advisor.add(call({ tool: 'tool', args: strip(c.args), cap: c.cap, intent: c.intent, at: c.at }));
      // A call the grant refused never shapes the advice.
      for (const c of s.calls) if (!allowed.includes(c)) advisor.add(call({ tool: 'tool', args: strip(c.args), cap: c.cap, intent: c.intent, decision: 'deny', code: 'arguments_out_of_scope' }));
      const advice = advisor.finish();
      expect(advice.groups).toHaveLength(1);
      const advised = advice.groups[0]!.grant!;

      const covers = compileFields(advised.tools.tool!.args ?? {});
      for (const c of allowed) expect(covers(strip(c.args), '')).toBeUndefined();
      for (const arg of ARGS) {
        const a = advised.tools.tool!.args?.[arg];
        if (a !== undefined) expect(() => compileConstraint(a)).not.toThrow();
      }
      expect(toolsWithin(advised.tools, recorded.tools)).toBeUndefined();
      if (s.ttl !== undefined) expect(advised.ttl as number).toBeLessThanOrEqual(s.ttl);
      expect(Object.keys(advised.tools)).toEqual(['tool']);
      const most = Math.max(...perIntent.values());
      expect(advised.tools.tool!.maxCalls).toBeGreaterThanOrEqual(Math.min(most, s.maxCalls ?? Infinity));
      if (s.maxCalls !== undefined) expect(advised.tools.tool!.maxCalls).toBeLessThanOrEqual(s.maxCalls);
    }),
    { numRuns: 1500 },
  );
});
