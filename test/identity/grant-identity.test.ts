import { decodeJwt } from 'jose';
import { beforeEach, describe, expect, test } from 'vitest';
import { createAuthority } from '../../src/capability/authority.js';
import { CapabilityError } from '../../src/errors.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';
import { createTestTrustDomain, type TestTrustDomain } from './trust-domain.js';

const AUTHORITY_AUDIENCE = 'urn:tessera:authority';
let clock: ReturnType<typeof manualClock>;
let td: TestTrustDomain;

beforeEach(async () => {
  clock = manualClock();
  td = await createTestTrustDomain('example.org', { clock, audience: AUTHORITY_AUDIENCE });
});

const request = (agentToken?: string) => ({
  agent: AGENT,
  audience: AUDIENCE,
  intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
  tools: { 'tickets.read': {} },
  ...(agentToken === undefined ? {} : { agentToken }),
});

async function authority(source: Parameters<typeof createJwtSvidVerifier>[0]['trustDomains'][string] = td.bundle(), requireAgentToken = true) {
  const identity = createJwtSvidVerifier({ audience: AUTHORITY_AUDIENCE, trustDomains: { 'example.org': source }, clock, timeoutMs: 2000 });
  return createAuthority({ issuer: ISSUER, clock, identity, requireAgentToken });
}

async function refusal(p: Promise<unknown>): Promise<CapabilityError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CapabilityError);
  return err as CapabilityError;
}

describe('grant({ agentToken })', () => {
  test('grants to the identity the token proves; the capability sub is that identity', async () => {
    const a = await authority();
    const cap = await a.grant(request(await td.svid(AGENT)));
    expect(decodeJwt(cap).sub).toBe(AGENT);
  });

  test('a token proving another workload: identity_mismatch', async () => {
    const a = await authority();
    const err = await refusal(a.grant(request(await td.svid('spiffe://example.org/agents/billing'))));
    expect(err.code).toBe('identity_mismatch');
  });

  test('an invalid token: identity_invalid, and the token is not quoted', async () => {
    const a = await authority();
    const token = await td.svid(AGENT, { aud: 'someone-else' });
    const err = await refusal(a.grant(request(token)));
    expect(err.code).toBe('identity_invalid');
    expect(err.message).not.toContain(token);
  });

  test('no token when the authority requires one: identity_invalid', async () => {
    const a = await authority();
    expect((await refusal(a.grant(request()))).code).toBe('identity_invalid');
  });

  test('the trust bundle cannot be reached: identity_unavailable (nothing is granted)', async () => {
    const a = await authority(new URL('http://127.0.0.1:9/bundle'));
    expect((await refusal(a.grant(request(await td.svid(AGENT))))).code).toBe('identity_unavailable');
  });

  test('a token without a verifier: grant_invalid', async () => {
    const a = await createAuthority({ issuer: ISSUER, clock });
    expect((await refusal(a.grant(request(await td.svid(AGENT))))).code).toBe('grant_invalid');
  });

  test('without requireAgentToken, a grant without a token still works', async () => {
    const a = await authority(td.bundle(), false);
    expect(decodeJwt(await a.grant(request())).sub).toBe(AGENT);
  });

  test('requireAgentToken without a verifier is refused at construction', async () => {
    await expect(createAuthority({ issuer: ISSUER, requireAgentToken: true })).rejects.toThrow(/requireAgentToken/);
  });
});
