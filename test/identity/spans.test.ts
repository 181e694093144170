/**
 * Identity tokens, capabilities and proofs never reach a span: only ids, hashes and the
 * identity's source are recorded, on allowed and denied calls alike.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { createAgentKey } from '../../src/identity/agent-key.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { createProofBinding } from '../../src/identity/proof-binding.js';
import { createSpanCapture } from '../support/otel.js';
import { AGENT, AUDIENCE, setup } from '../support/fixtures.js';
import { createTestTrustDomain } from './trust-domain.js';

const capture = createSpanCapture();
afterAll(() => capture.shutdown());

describe('identity in spans', () => {
  test('spans carry the identity source and denial codes, never a token or a proof', async () => {
    let now: () => number = () => 0;
    const td = await createTestTrustDomain('example.org', { clock: () => now(), audience: AUDIENCE });
    const s = await setup({
      identity: createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': td.bundle() }, clock: () => now() }),
      requireIdentity: true,
      telemetry: { tracer: capture.tracer },
    });
    now = s.clock;
    const key = await createAgentKey('EdDSA', { clock: s.clock });
    const cap = await s.grant({ confirmation: { jkt: key.jkt } });
    const svid = await td.svid(AGENT);
    const foreign = await td.svid('spiffe://example.org/agents/billing');
    const args = { ticketId: '4711' };
    const proof = key.prove(createProofBinding({ capability: cap, tool: 'tickets.read', callId: 'c1', args, audience: AUDIENCE }));

    await s.readTicket(args, { capability: { capability: cap, identity: svid }, callId: 'c1', proof });
    await s.readTicket(args, { capability: { capability: cap, identity: svid }, callId: 'c1', proof }).catch(() => undefined);
    await s.readTicket(args, { capability: { capability: cap, identity: foreign }, callId: 'c2' }).catch(() => undefined);
    await s.readTicket(args, { capability: { capability: cap, identity: svid }, callId: 'c3' }).catch(() => undefined);

    const spans = await capture.spans();
    expect(spans.map((sp) => sp.attributes['tessera.denial.code'] ?? 'allow')).toEqual(['allow', 'replay_detected', 'identity_mismatch', 'proof_invalid']);
    expect(spans[0]!.attributes['tessera.identity.source']).toBe('jwt-svid');
    const dump = JSON.stringify(spans.map((sp) => ({ name: sp.name, attributes: sp.attributes, events: sp.events, status: sp.status })));
    for (const secret of [cap, svid, foreign, proof, ...[cap, svid, foreign, proof].map((t) => t.split('.')[2]!)]) {
      expect(dump).not.toContain(secret);
    }
  });
});
