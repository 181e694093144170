/**
 * OIDC identities from a real provider (`oidc-provider`) on 127.0.0.1: discovery, JWKS, key
 * rotation followed, and a provider that is down denies calls instead of allowing them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ToolDeniedError } from '../../src/errors.js';
import { createOidcVerifier, type OidcVerifierOptions } from '../../src/identity/oidc.js';
import { AUDIENCE, setup } from '../support/fixtures.js';
import { startOidcProvider, type TestOidcProvider } from './oidc-server.js';
import { denial } from '../support/outcomes.js';

let op: TestOidcProvider;
beforeEach(async () => {
  op = await startOidcProvider(['agent-support', 'agent-billing'], AUDIENCE);
});
afterEach(async () => {
  await op.stop();
});

async function guarded(overrides: Partial<OidcVerifierOptions> = {}) {
  const identity = createOidcVerifier({ issuer: op.issuer, audience: AUDIENCE, typ: 'at+jwt', ...overrides });
  const s = await setup({ identity, requireIdentity: true });
  const agent = overrides.identityClaim === 'client_id' ? 'agent-support' : `${op.issuer}#agent-support`;
  const cap = await s.grant({ agent });
  const call = (token: string) => s.guard.withCapability({ capability: cap, identity: token }, () => s.readTicket({ ticketId: '4711' }));
  return { ...s, cap, call };
}


describe('OIDC identity through discovery and JWKS', () => {
  test('a client-credentials access token names the agent as <iss>#<sub>', async () => {
    const identity = createOidcVerifier({ issuer: op.issuer, audience: AUDIENCE });
    const agent = await identity.verify(await op.token('agent-support'));
    expect(agent).toMatchObject({ id: `${op.issuer}#agent-support`, issuer: op.issuer, source: 'oidc' });
    expect(agent.attributes).toMatchObject({ client_id: 'agent-support', scope: 'tools' });
    expect(agent.expiresAt).toBeGreaterThan(Date.now());
  });

  test('the guard allows the call when the token names the capability subject', async () => {
    const { call, ran } = await guarded();
    await call(await op.token('agent-support'));
    expect(ran).toEqual(['tickets.read:4711']);
  });

  test('a configured identity claim names the agent', async () => {
    const { call, ran } = await guarded({ identityClaim: 'client_id' });
    await call(await op.token('agent-support'));
    expect(ran).toEqual(['tickets.read:4711']);
  });

  test("another agent's valid token: identity_mismatch", async () => {
    const { call, ran } = await guarded();
    const err = await denial(call(await op.token('agent-billing')));
    expect(err.code).toBe('identity_mismatch');
    expect(ran).toEqual([]);
  });

  test('a token for another audience: identity_invalid', async () => {
    const identity = createOidcVerifier({ issuer: op.issuer, audience: 'other-app' });
    await expect(identity.verify(await op.token('agent-support'))).rejects.toMatchObject({ code: 'identity_invalid' });
  });

  test('a token of another typ than required: identity_invalid', async () => {
    const { call, ran } = await guarded({ typ: 'JWT' });
    const err = await denial(call(await op.token('agent-support')));
    expect(err.code).toBe('identity_invalid');
    expect(ran).toEqual([]);
  });

  test("a token forged under the provider's kid: identity_invalid", async () => {
    const { call, ran } = await guarded();
    const real = await op.token('agent-support');
    await call(real);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await new SignJWT({ client_id: 'agent-support', scope: 'tools' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: op.kid })
      .setIssuer(op.issuer)
      .setSubject('agent-support')
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const err = await denial(call(forged));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('signature');
    expect(ran).toEqual(['tickets.read:4711']);
  });

  test('key rotation: tokens signed with the new key verify after one refetch', async () => {
    const { call, ran } = await guarded({ jwksCooldownMs: 0 });
    const before = await op.token('agent-support');
    await call(before);
    const oldKid = op.kid;
    const newKid = op.rotate();
    expect(newKid).not.toBe(oldKid);
    const after = await op.token('agent-support');
    expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
    await call(after);
    expect(ran).toEqual(['tickets.read:4711', 'tickets.read:4711']);
  });

  test('a provider that is down before the first call: identity_unavailable, the tool never runs', async () => {
    const token = await op.token('agent-support');
    await op.stop();
    const { call, ran } = await guarded({ timeoutMs: 2000 });
    const err = await denial(call(token));
    expect(err.code).toBe('identity_unavailable');
    expect(err.message).not.toContain(token);
    expect(ran).toEqual([]);
  });

  test('a provider that goes down after rotating: the new key cannot be fetched, identity_unavailable', async () => {
    const { call, ran } = await guarded({ jwksCooldownMs: 0, timeoutMs: 2000 });
    await call(await op.token('agent-support'));
    op.rotate();
    const rotated = await op.token('agent-support');
    await op.stop();
    const err = await denial(call(rotated));
    expect(err.code).toBe('identity_unavailable');
    expect(ran).toEqual(['tickets.read:4711']);
  });

  test('a discovery document naming another issuer: identity_unavailable', async () => {
    const identity = createOidcVerifier({ issuer: `${op.issuer}/`, audience: AUDIENCE });
    await expect(identity.verify(await op.token('agent-support'))).rejects.toMatchObject({ code: 'identity_unavailable' });
  });

  test('bad options are refused at construction, naming the option', () => {
    expect(() => createOidcVerifier({ issuer: 'not a url', audience: AUDIENCE })).toThrow(/issuer/);
    expect(() => createOidcVerifier({ issuer: 'http://idp.example.com', audience: AUDIENCE })).toThrow(/https/);
    expect(() => createOidcVerifier({ issuer: op.issuer, audience: AUDIENCE, algorithms: ['HS256'] })).toThrow(/algorithms/);
  });
});
