/**
 * Property: whatever a client asks for, a granted capability is within the ceiling of the
 * requester's role, checked by meaning (every value the granted constraint accepts, the ceiling
 * accepts), not by re-running the subsumption code that decided the grant.
 */
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { expect, test } from 'vitest';
import type { ToolGrant } from '../../../src/capability/claims.js';
import { compileConstraint, type ArgConstraint } from '../../../src/capability/constraints.js';
import type { GrantPolicy } from '../../../src/server/authority/grant-policy.js';
import { createHarness, SUPPORT } from './support.js';

const CEILING: Record<string, ToolGrant> = {
  'tickets.read': { args: { ticketId: { startsWith: 'T-' } }, maxCalls: 5 },
  'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 3 },
  'files.*': { args: { path: { pathWithin: '/srv/data' } } },
  'metrics.get': {},
};
const POLICY: GrantPolicy = { roles: [{ name: 'support', match: [{ spiffe: SUPPORT }], ceiling: { tools: CEILING, maxTtl: '10m' } }] };
const ceilingOf = (tool: string): ToolGrant | undefined => CEILING[tool] ?? (tool.startsWith('files.') ? CEILING['files.*'] : undefined);

const SAMPLES = ['T-1', 'T-12', 'X-1', '', 'ops@example.com', 'a@evil.com', 'x.example.com', '/srv/data/a/b', '/srv/data', '/srv/other', '/srv/data/../etc', 'relative/x', 'T-', '@example.com'];

const constraint: fc.Arbitrary<ArgConstraint> = fc.oneof(
  fc.record({ startsWith: fc.constantFrom('T-', 'T-1', 'X', '', '/srv/data/') }),
  fc.record({ endsWith: fc.constantFrom('@example.com', '.example.com', '@evil.com', 'com') }),
  fc.record({ eq: fc.constantFrom(...SAMPLES) }),
  fc.record({ in: fc.uniqueArray(fc.constantFrom(...SAMPLES), { minLength: 1, maxLength: 4 }) }),
  fc.record({ pathWithin: fc.constantFrom('/srv/data', '/srv/data/a', '/srv', '/') }),
  fc.record({ pathWithin: fc.constantFrom('/srv/data/a', '/srv/data'), startsWith: fc.constant('/') }),
  fc.record({ maxLength: fc.integer({ min: 1, max: 20 }) }),
);
const toolRequest = fc.record(
  {
    tool: fc.constantFrom('tickets.read', 'email.send', 'files.read', 'files.write', 'metrics.get', 'db.drop'),
    args: fc.dictionary(fc.constantFrom('ticketId', 'to', 'path', 'other'), constraint, { maxKeys: 3 }),
    maxCalls: fc.integer({ min: 1, max: 8 }),
  },
  { requiredKeys: ['tool'] },
);

test('any granted request is within the ceiling of its role', async () => {
  const h = await createHarness({ policy: POLICY, server: { rateLimit: { burst: 1_000_000, perMinute: 6_000_000 } } });
  const svid = await h.svid(SUPPORT);
  let granted = 0;
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(toolRequest, { minLength: 1, maxLength: 4, selector: (t) => t.tool }), async (tools) => {
      const res = await h.token(h.form(svid, tools.map((t) => ({ type: 'tessera_tool', ...t }))));
      if (res.status !== 200) {
        expect([400, 403]).toContain(res.status);
        return;
      }
      granted++;
      const claims = decodeJwt(((await res.json()) as { access_token: string }).access_token) as { tools: Record<string, ToolGrant> };
      for (const [tool, grant] of Object.entries(claims.tools)) {
        const ceiling = ceilingOf(tool);
        expect(ceiling).toBeDefined();
        if (ceiling!.maxCalls !== undefined) expect(grant.maxCalls).toBeLessThanOrEqual(ceiling!.maxCalls);
        for (const [arg, outer] of Object.entries(ceiling!.args ?? {})) {
          const inner = grant.args?.[arg];
          expect(inner).toBeDefined();
          const accepts = compileConstraint(inner!);
          const ceilingAccepts = compileConstraint(outer);
          for (const v of SAMPLES) if (accepts(v, arg) === undefined) expect(ceilingAccepts(v, arg)).toBeUndefined();
        }
      }
    }),
    { numRuns: 300, seed: 4711 },
  );
  // The property must have been exercised on grants, not only on refusals.
  expect(granted).toBeGreaterThan(10);
}, 60_000);
