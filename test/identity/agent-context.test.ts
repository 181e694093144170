import { beforeEach, describe, expect, test } from 'vitest';
import { ToolDeniedError } from '../../src/errors.js';
import { createAgentKey, type AgentKey } from '../../src/identity/agent-key.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { AGENT, AUDIENCE, setup } from '../support/fixtures.js';
import { createTestTrustDomain, type TestTrustDomain } from './trust-domain.js';

const ARGS = { ticketId: '4711' };
let s: Awaited<ReturnType<typeof setup>>;
let td: TestTrustDomain;
let key: AgentKey;
let cap: string;

beforeEach(async () => {
  let now: () => number = () => 0;
  td = await createTestTrustDomain('example.org', { clock: () => now(), audience: AUDIENCE });
  s = await setup({
    identity: createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': td.bundle() }, clock: () => now() }),
    requireIdentity: true,
  });
  now = s.clock;
  key = await createAgentKey('EdDSA', { clock: s.clock });
  cap = await s.grant({ confirmation: { jkt: key.jkt } });
});

async function code(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'allowed',
    (e: unknown) => (e instanceof ToolDeniedError ? e.code : `unexpected ${String(e)}`),
  );
}

describe('guard.withAgent', () => {
  test('identity and prover presented once apply to calls under any capability', async () => {
    const svid = await td.svid(AGENT);
    const other = await s.grant({ confirmation: { jkt: key.jkt }, intent: { id: 'ticket-9', purpose: 'Another task' } });
    const results = await s.guard.withAgent({ identity: svid, prover: key }, async () => [
      await code(s.readTicket(ARGS, { capability: cap })),
      await code(s.guard.withCapability(other, () => s.readTicket(ARGS))),
    ]);
    expect(results).toEqual(['allowed', 'allowed']);
    expect(s.ran).toEqual(['tickets.read:4711', 'tickets.read:4711']);
  });

  test("a capability binding's own identity wins over the agent context's", async () => {
    const mine = await td.svid(AGENT);
    const foreign = await td.svid('spiffe://example.org/agents/billing');
    const r = await s.guard.withAgent({ identity: mine, prover: key }, () =>
      code(s.readTicket(ARGS, { capability: { capability: cap, identity: foreign } })),
    );
    expect(r).toBe('identity_mismatch');
    expect(s.ran).toEqual([]);
  });

  test('outside the agent context the same call has no identity: identity_invalid', async () => {
    expect(await code(s.readTicket(ARGS, { capability: cap }))).toBe('identity_invalid');
    expect(s.ran).toEqual([]);
  });

  test('an agent context with an identity but no prover: proof_invalid', async () => {
    const svid = await td.svid(AGENT);
    expect(await s.guard.withAgent({ identity: svid }, () => code(s.readTicket(ARGS, { capability: cap })))).toBe('proof_invalid');
    expect(s.ran).toEqual([]);
  });

  test('bad arguments are refused with a TypeError', () => {
    expect(() => s.guard.withAgent({ identity: '' }, () => 1)).toThrow(TypeError);
    expect(() => s.guard.withAgent({ prover: {} as never }, () => 1)).toThrow(TypeError);
  });
});
