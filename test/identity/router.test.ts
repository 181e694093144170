import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { createOidcVerifier } from '../../src/identity/oidc.js';
import { createIdentityRouter } from '../../src/identity/router.js';
import type { IdentityVerifier } from '../../src/identity/types.js';
import { manualClock } from '../support/fixtures.js';
import { startOidcProvider, type TestOidcProvider } from './oidc-server.js';
import { createTestTrustDomain, type TestTrustDomain } from './trust-domain.js';

const AUDIENCE = 'support-app';
let op: TestOidcProvider;
let td: TestTrustDomain;
let router: IdentityVerifier;

beforeEach(async () => {
  op = await startOidcProvider(['agent-support'], AUDIENCE);
  td = await createTestTrustDomain('example.org', { clock: Date.now, audience: AUDIENCE });
  router = createIdentityRouter({
    jwtSvid: createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': td.bundle() } }),
    oidc: { [op.issuer]: createOidcVerifier({ issuer: op.issuer, audience: AUDIENCE }) },
  });
});
afterEach(async () => {
  await op.stop();
});

describe('createIdentityRouter', () => {
  test('routes JWT-SVIDs and OIDC tokens to their verifiers', async () => {
    await expect(router.verify(await td.svid('spiffe://example.org/a'))).resolves.toMatchObject({ id: 'spiffe://example.org/a', source: 'jwt-svid' });
    await expect(router.verify(await op.token('agent-support'))).resolves.toMatchObject({ id: `${op.issuer}#agent-support`, source: 'oidc' });
  });

  test('a token from an unknown issuer with a non-SPIFFE sub: identity_invalid', async () => {
    const other = await createTestTrustDomain('example.org', { clock: manualClock(), audience: AUDIENCE });
    const token = await other.svid('agent-x', { claims: { iss: 'https://unknown.example' } });
    await expect(router.verify(token)).rejects.toMatchObject({ code: 'identity_invalid' });
  });

  test("a JWT-SVID claiming the OIDC provider's issuer goes to that verifier and fails there: identity_invalid", async () => {
    const token = await td.svid('spiffe://example.org/a', { claims: { iss: op.issuer } });
    await expect(router.verify(token)).rejects.toMatchObject({ code: 'identity_invalid' });
  });

  test('garbage: identity_invalid', async () => {
    await expect(router.verify('garbage')).rejects.toMatchObject({ code: 'identity_invalid' });
  });

  test('needs at least one verifier', () => {
    expect(() => createIdentityRouter({})).toThrow(TypeError);
  });
});
