import { expect, test } from 'vitest';
import { runDelegationExample } from '../../examples/delegation.js';

test('planner → researcher → mailer: allowed and denied steps, and the chain on every span', async () => {
  const lines: string[] = [];
  const { rows, spans } = await runDelegationExample((l) => lines.push(l));
  expect(rows.map((r) => [r.step, r.outcome, r.code])).toEqual([
    ['researcher reads ticket 4711', 'allowed', ''],
    ['researcher reads ticket 4712', 'denied', 'arguments_out_of_scope'],
    ['mailer emails ops', 'allowed', ''],
    ['mailer emails sales', 'denied', 'arguments_out_of_scope'],
    ['mailer widens its grant for a helper', 'refused', 'delegation_invalid'],
    ['researcher reads ticket 4711 after the root is revoked', 'denied', 'capability_revoked'],
  ]);
  expect(lines).toContain(
    "  mailer widens its grant for a helper: delegation refused: link 3 widens email.send.to: endsWith '@example.com' is not within eq 'ops@example.com'",
  );
  const mailerSpan = spans.find((s) => s.name === 'execute_tool email.send' && s.attributes['tessera.decision'] === 'allow')!;
  const rootId = mailerSpan.attributes['tessera.delegation.root_id'];
  expect(mailerSpan.attributes).toMatchObject({
    'tessera.delegation.depth': 2,
    'tessera.delegation.chain': ['spiffe://example.org/agents/planner', 'spiffe://example.org/agents/researcher', 'spiffe://example.org/agents/mailer'],
    'gen_ai.agent.id': 'spiffe://example.org/agents/mailer',
  });
  expect(spans.map((s) => [s.attributes['tessera.delegation.depth'], s.attributes['tessera.delegation.root_id']])).toEqual([
    [1, rootId],
    [1, rootId],
    [2, rootId],
    [2, rootId],
    [1, rootId],
  ]);
  // No token of the chain appears in any span.
  const dump = JSON.stringify(spans.map((s) => [s.attributes, s.events]));
  expect(dump).not.toMatch(/eyJ[\w-]{10,}/);
});
