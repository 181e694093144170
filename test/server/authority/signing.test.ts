/**
 * A key the authority holds signs with node:crypto directly, not through jose: these tests check
 * the result with jose's own verifier and with a real guard, for both algorithms, across a
 * rotation and through token exchange.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority } from '../../../src/capability/authority.js';
import { createAgentKey, createHarness, GUARD_AUDIENCE, guardFor, ISSUER, SUPPORT } from './support.js';
import { guardTool } from '../../../src/index.js';

const grant = {
  agent: SUPPORT,
  audience: GUARD_AUDIENCE,
  intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
  tools: { 'tickets.read': { maxCalls: 3 } },
};

describe.each(['EdDSA', 'ES256'] as const)('an authority holding its %s key', (algorithm) => {
  test("signs a compact JWS that jose verifies against the authority's JWKS, with exactly alg, typ and kid", async () => {
    const a = await createAuthority({ issuer: ISSUER, algorithm });
    const token = await a.grant(grant);
    expect(decodeProtectedHeader(token)).toEqual({ alg: algorithm, typ: 'tessera-cap+jwt', kid: a.kid });
    const { payload } = await jwtVerify(token, createLocalJWKSet(a.jwks()), { algorithms: [algorithm], typ: 'tessera-cap+jwt', issuer: ISSUER, audience: GUARD_AUDIENCE });
    expect(payload).toMatchObject({ sub: SUPPORT, intent: grant.intent, tools: grant.tools });
  });

  test('a token signed before a rotation still verifies after it, under the retired kid', async () => {
    const a = await createAuthority({ issuer: ISSUER, algorithm });
    const before = await a.grant(grant);
    const oldKid = a.kid;
    await a.rotate();
    const after = await a.grant(grant);
    expect(decodeProtectedHeader(after).kid).not.toBe(oldKid);
    const keys = createLocalJWKSet(a.jwks());
    for (const token of [before, after]) await expect(jwtVerify(token, keys, { algorithms: [algorithm], typ: 'tessera-cap+jwt' })).resolves.toBeDefined();
  });

  test('a capability granted by the token endpoint, and its child by token exchange, both run a tool in a real guard', async () => {
    const h = await createHarness({ authority: { algorithm } });
    const key = await createAgentKey('EdDSA', { clock: h.clock });
    const res = await h.token(h.form(await h.svid(SUPPORT)), { DPoP: await h.dpop(key) });
    const { access_token: capability } = (await res.json()) as { access_token: string };
    expect(decodeProtectedHeader(capability).alg).toBe(algorithm);
    const child = await h.authority.delegate(capability, { to: 'spiffe://example.org/agents/helper', tools: { 'tickets.read': { maxCalls: 1 } } });
    expect(decodeProtectedHeader(child)).toEqual({ alg: algorithm, typ: 'tessera-cap+jwt', kid: h.authority.kid });

    const guard = guardFor(h);
    const read = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' }, async (a) => a.ticketId);
    const identity = await h.svid(SUPPORT, { aud: GUARD_AUDIENCE });
    await expect(guard.withCapability({ capability, identity, prover: key }, () => read({ ticketId: 'T-1' }))).resolves.toBe('T-1');
    const helper = await h.svid('spiffe://example.org/agents/helper', { aud: GUARD_AUDIENCE });
    await expect(guard.withCapability({ capability: child, identity: helper }, () => read({ ticketId: 'T-2' }))).resolves.toBe('T-2');
  });
});
