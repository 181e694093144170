/**
 * Policy at the moment of the call: the rules engine over 50 rules, the Cedar engine, and raw
 * cedar-wasm's own pre-parsed `statefulIsAuthorized` on the same request in the same run, so the
 * engine's own cost shows as a ratio.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { z } from 'zod';
import { createRulesEngine, type PolicyRequest, type RulesDocument } from '../../src/index.js';
import { createCedarEngine } from '../../src/policy/cedar.js';
import { perRoundMedian, round, type Floor, type Harness } from '../harness.js';

export default async function policySuite(h: Harness, _floor: Floor): Promise<Record<string, number | string>> {
  const request: PolicyRequest = {
    agent: { id: 'spiffe://example.org/agents/support', source: 'jwt-svid', trustDomain: 'example.org', attributes: { roles: ['support'] } },
    intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
    tool: { name: 'email.send', risk: 'write', description: 'Send an email' },
    args: { to: 'a@example.com', subject: 'Hello', body: 'Your ticket is solved.' },
    capabilityId: 'cap-1',
    delegation: { depth: 0, chain: ['spiffe://example.org/agents/support'] },
    environment: { name: 'production' },
    time: Date.UTC(2026, 10, 30, 10, 0, 0),
  };

  // 50 rules, most of them touching email.send so that each is really checked.
  const rules: RulesDocument['rules'] = [];
  for (let i = 0; i < 47; i++) {
    rules.push({
      id: `r${i}`,
      effect: i % 3 === 0 ? 'forbid' : 'permit',
      tools: i % 2 === 0 ? ['email.*'] : ['email.send', `other.${i}`],
      risk: ['write', 'external'],
      args: { to: { endsWith: i % 3 === 0 ? `@blocked${i}.example` : '@example.com' } },
      environment: { name: ['production', 'staging'] },
      delegationDepth: { lte: 2 },
    });
  }
  rules.push(
    { id: 'office-hours', effect: 'forbid', tools: ['email.send'], outside: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], hours: { from: '08:00', to: '18:00' } } },
    { id: 'intent', effect: 'permit', roles: ['support'], intent: { id: ['ticket-*'] } },
    { id: 'rate', effect: 'forbid', tools: ['email.send'], rate: { max: 1e9, per: '1h' } },
  );
  const engine = createRulesEngine({ version: 1, roles: { support: [{ spiffe: 'spiffe://example.org/agents/*' }] }, rules });
  const check = engine.evaluate(request);
  if (!('effect' in check) || check.effect !== 'allow') throw new Error(`rules bench request should be allowed, got ${JSON.stringify(check)}`);

  // 1,000 rules as a larger deployment writes them: most name their tools exactly (200 tools),
  // some use globs, a few apply to every tool; the request's tool is covered by a handful.
  const many: RulesDocument['rules'] = [];
  for (let i = 0; i < 1000; i++) {
    const tool = `svc${i % 200}.op${i % 7}`;
    if (i % 50 === 0) many.push({ id: `glob-${i}`, effect: 'forbid', tools: [`svc${i % 200}.*`], args: { to: { endsWith: `@blocked${i}.example` } } });
    else if (i % 100 === 1) many.push({ id: `all-${i}`, effect: 'forbid', environment: { name: ['staging'] } });
    else many.push({ id: `r-${i}`, effect: i % 4 === 0 ? 'forbid' : 'permit', tools: [tool, `other.${i}`], roles: ['support'], risk: ['write', 'external'], args: { to: { endsWith: i % 4 === 0 ? `@blocked${i}.example` : '@example.com' } } });
  }
  many.push(
    { id: 'email-forbid', effect: 'forbid', tools: ['email.*'], args: { to: { endsWith: '@blocked.example' } } },
    { id: 'email-permit', effect: 'permit', tools: ['email.send'], roles: ['support'], args: { to: { endsWith: '@example.com' } } },
  );
  const big = createRulesEngine({ version: 1, roles: { support: [{ spiffe: 'spiffe://example.org/agents/*' }] }, rules: many });
  const bigCheck = big.evaluate(request);
  if (!('effect' in bigCheck) || bigCheck.effect !== 'allow') throw new Error(`1,000-rule bench request should be allowed, got ${JSON.stringify(bigCheck)}`);
  // The same engine, every rule checked: a tool that all 1,000 rules name.
  const wide: RulesDocument['rules'] = many.map((r, i) => ({ ...r, tools: ['email.send'], id: `w-${i}`, ...(r.effect === 'forbid' ? { args: { to: { eq: `x${i}@blocked.example` } } } : {}) }));
  const wideEngine = createRulesEngine({ version: 1, roles: { support: [{ spiffe: 'spiffe://example.org/agents/*' }] }, rules: wide });
  const wideCheck = wideEngine.evaluate(request);
  if (!('effect' in wideCheck) || wideCheck.effect !== 'allow') throw new Error(`wide bench request should be allowed, got ${JSON.stringify(wideCheck)}`);
  const R50 = 'policy: rules engine, 50 rules';
  const R1000 = 'policy: rules engine, 1,000 rules over 200 tools';
  const RWIDE = 'policy: rules engine, 1,000 rules all naming the tool';
  const rr = await h.rounds(
    {
      [R50]: () => engine.evaluate(request),
      [R1000]: () => big.evaluate(request),
      [RWIDE]: { fn: () => wideEngine.evaluate(request), iterations: 500 },
    },
    { iterations: 5000, rounds: 9, floorIterations: 1000 },
  );
  const rulesUs = rr.us(R50);
  h.note('policy: 1,000 rules / Ed25519 sign', `${rr.ratio(R1000).toFixed(3)} (target <= 2.0); every rule naming the tool: ${rr.ratio(RWIDE).toFixed(3)}`);

  const tool = { name: 'email.send', input: z.object({ to: z.string().email(), subject: z.string(), body: z.string() }), risk: 'write' as const };
  const policies = `
@id("permit-support") permit (principal, action, resource) when { principal.roles.contains("support") };
@id("internal-mail") forbid (principal, action == Action::"email.send", resource) unless { context.args.to like "*@example.com" };
@id("office-hours") forbid (principal, action, resource) when { context.risk == "external" } unless { context.time.hour >= 8 && context.time.hour < 18 };
@id("subagents") forbid (principal, action, resource) when { context.delegation.depth >= 1 && context.risk != "read" };`;
  const cedarEngine = createCedarEngine({ policies, tools: [tool] });
  const decided = cedarEngine.evaluate(request);
  if (!('effect' in decided) || decided.effect !== 'allow') throw new Error('cedar bench request should be allowed');

  // Raw cedar-wasm: the same request, pre-parsed policy set and schema, built once.
  const rawCall: cedar.StatefulAuthorizationCall = {
    principal: { type: 'Agent', id: request.agent.id },
    action: { type: 'Action', id: 'email.send' },
    resource: { type: 'Tool', id: 'email.send' },
    context: {
      args: { to: 'a@example.com', subject: 'Hello', body: 'Your ticket is solved.' },
      intent: { id: request.intent.id, purpose: request.intent.purpose },
      risk: 'write',
      environment: 'production',
      delegation: { depth: 0, chain: [...request.delegation.chain] },
      time: { epochSeconds: Math.floor(request.time / 1000), hour: 10, minute: 0, weekday: 'mon' },
    },
    entities: [
      { uid: { type: 'Agent', id: request.agent.id }, attrs: { source: 'jwt-svid', roles: ['support'], trustDomain: 'example.org' }, parents: [] },
      { uid: { type: 'Tool', id: 'email.send' }, attrs: { risk: 'write' }, parents: [] },
    ],
    preparsedPolicySetId: 'bench-raw',
    preparsedSchemaName: 'bench-raw',
    validateRequest: true,
  };
  const staticPolicies: Record<string, string> = {};
  const parts = cedar.policySetTextToParts(policies);
  if (parts.type !== 'success') throw new Error('bench policies do not parse');
  parts.policies.forEach((p, i) => (staticPolicies[`p${i}`] = p));
  cedar.preparsePolicySet('bench-raw', { staticPolicies });
  cedar.preparseSchema('bench-raw', cedarEngine.schema as cedar.Schema);
  const raw = cedar.statefulIsAuthorized(rawCall);
  if (raw.type !== 'success' || raw.response.decision !== 'allow') throw new Error('raw cedar bench request should be allowed');

  // Raw and engine alternate in every round, and the ratio is taken within each round, so that
  // drift on a noisy machine weighs on both alike.
  const series = await h.interleaved(
    {
      'policy: raw cedar-wasm statefulIsAuthorized': () => cedar.statefulIsAuthorized(rawCall),
      'policy: Cedar engine per call': () => cedarEngine.evaluate(request),
    },
    { iterations: 1000, rounds: 11 },
  );
  const cedarUs = perRoundMedian(series, (v) => v('policy: Cedar engine per call'));
  const rawUs = perRoundMedian(series, (v) => v('policy: raw cedar-wasm statefulIsAuthorized'));
  const ratio = perRoundMedian(series, (v) => v('policy: Cedar engine per call') / v('policy: raw cedar-wasm statefulIsAuthorized'));
  h.note('policy: Cedar engine / raw cedar-wasm', `${ratio.toFixed(2)} (target <= 1.2)`);
  return {
    rules_eval_us: round(rulesUs),
    rules_50_vs_ed25519_sign: round(rr.ratio(R50)),
    rules_1000_vs_ed25519_sign: round(rr.ratio(R1000)),
    rules_1000_us: round(rr.us(R1000)),
    rules_1000_one_tool_vs_ed25519_sign: round(rr.ratio(RWIDE)),
    cedar_engine_us: round(cedarUs),
    raw_cedar_us: round(rawUs),
    cedar_engine_vs_raw_cedar: round(ratio),
  };
}
