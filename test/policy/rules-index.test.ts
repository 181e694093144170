import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createRulesEngine, type PolicyDecision, type PolicyRequest, type RulesDocument } from '../../src/index.js';
import { RULES_DEFAULT_ID } from '../../src/policy/rules.js';

const request = (tool: string): PolicyRequest => ({
  agent: { id: 'spiffe://example.org/agents/support', source: 'jwt-svid', trustDomain: 'example.org' },
  intent: { id: 'i-1', purpose: 'Answer a ticket' },
  tool: { name: tool, risk: 'read', description: tool },
  args: {},
  capabilityId: 'cap-1',
  delegation: { depth: 0, chain: ['spiffe://example.org/agents/support'] },
  environment: {},
  time: Date.UTC(2026, 10, 30, 10, 0, 0),
});

// A rule applies to a tool it names, to a tool under a `prefix.*` glob it names, or to every tool
// when it names none. The engine's tool index must pick exactly these rules, in document order.
const appliesTo = (tools: readonly string[] | undefined, tool: string): boolean =>
  tools === undefined || tools.some((p) => p === tool || (p.endsWith('.*') && tool.startsWith(p.slice(0, -1))));

describe('the tool index picks the same rules, in document order, as testing every rule', () => {
  const names = ['a.x', 'a.y', 'b.x', 'b.y', 'c.z'];
  const pattern = fc.constantFrom(...names, 'a.*', 'b.*', 'z.*');
  const rule = fc.record({ effect: fc.constantFrom('permit' as const, 'forbid' as const), tools: fc.option(fc.array(pattern, { minLength: 1, maxLength: 3 }), { nil: undefined }) });

  test('for random rule sets and every tool (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(rule, { minLength: 1, maxLength: 25 }), (drawn) => {
        const rules: RulesDocument['rules'] = drawn.map((r, i) => ({ id: `r${i}`, effect: r.effect, ...(r.tools ? { tools: r.tools } : {}) }));
        const engine = createRulesEngine({ version: 1, rules });
        for (const tool of [...names, 'other.tool']) {
          const matching = rules.filter((r) => appliesTo(r.tools, tool));
          const forbids = matching.filter((r) => r.effect === 'forbid').map((r) => r.id);
          const permits = matching.filter((r) => r.effect === 'permit').map((r) => r.id);
          const expected = forbids.length > 0 ? { effect: 'deny', policyIds: forbids } : permits.length > 0 ? { effect: 'allow', policyIds: permits } : { effect: 'deny', policyIds: [RULES_DEFAULT_ID] };
          const got = engine.evaluate(request(tool)) as PolicyDecision;
          expect({ effect: got.effect, policyIds: got.policyIds }).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a rule that names a tool both exactly and by a glob counts once', () => {
    const engine = createRulesEngine({ version: 1, rules: [{ id: 'both', effect: 'permit', tools: ['a.x', 'a.*', 'a.x'] }] });
    expect(engine.evaluate(request('a.x'))).toMatchObject({ effect: 'allow', policyIds: ['both'] });
  });
});

describe('reasons are written when read, and read the same as before', () => {
  const engine = createRulesEngine({
    version: 1,
    rules: [
      { id: 'p1', effect: 'permit', tools: ['a.x'], reason: 'reads are fine' },
      { id: 'p2', effect: 'permit', tools: ['a.*'] },
      { id: 'f1', effect: 'forbid', tools: ['b.x'], reason: 'never b' },
      { id: 'f2', effect: 'forbid', tools: ['b.*'], description: 'no b at all' },
      { id: 'f3', effect: 'forbid', tools: ['b.*'] },
      { id: 'f4', effect: 'forbid', tools: ['b.x'] },
    ],
  });

  test('a deny names its first rules and counts the rest', () => {
    const d = engine.evaluate(request('b.x'));
    expect(d).toEqual({
      effect: 'deny',
      policyIds: ['f1', 'f2', 'f3', 'f4'],
      reason: 'forbidden by rule "f1": never b; rule "f2": no b at all; rule "f3"; and 1 more',
    });
  });

  test('an allow has its reason too, and serialises with it', () => {
    const d = engine.evaluate(request('a.x'));
    expect(JSON.parse(JSON.stringify(d))).toEqual({ effect: 'allow', policyIds: ['p1', 'p2'], reason: 'permitted by rule "p1": reads are fine; rule "p2"' });
  });
});
