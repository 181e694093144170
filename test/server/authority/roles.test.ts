import { decodeJwt } from 'jose';
import { describe, expect, test } from 'vitest';
import { createAuthorityServer } from '../../../src/server/authority/index.js';
import { createJwtSvidVerifier } from '../../../src/identity/jwt-svid.js';
import type { GrantPolicy } from '../../../src/server/authority/grant-policy.js';
import { ADMIN, AUTHZ_AUDIENCE, createAgentKey, createHarness, ISSUER, oauthError, SUPPORT } from './support.js';

const TWO_ROLES: GrantPolicy = {
  roles: [
    { name: 'reader', match: [{ spiffe: 'spiffe://example.org/agents/*' }], ceiling: { tools: { 'tickets.read': { maxCalls: 1 } }, maxTtl: '5m' } },
    { name: 'mailer', match: [{ spiffe: SUPPORT }], ceiling: { tools: { 'email.send': { maxCalls: 2 } }, maxTtl: '2m' } },
  ],
};

describe('an identity with several roles', () => {
  test('is granted by the first role whose ceiling holds the whole request', async () => {
    const h = await createHarness({ policy: TWO_ROLES });
    const res = await h.token(h.form(await h.svid(SUPPORT), [{ type: 'tessera_tool', tool: 'email.send', maxCalls: 2 }]));
    expect(res.status).toBe(200);
    // The granting role's ceiling (2m) bounds the default ttl of 5m.
    expect(((await res.json()) as { expires_in: number }).expires_in).toBe(120);
  });

  test('a request no single role holds is refused with the first role\'s reason; ceilings are not combined', async () => {
    const h = await createHarness({ policy: TWO_ROLES });
    const res = await h.token(h.form(await h.svid(SUPPORT), [{ type: 'tessera_tool', tool: 'email.send', maxCalls: 1 }, { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }]));
    const body = await oauthError(res, 400);
    expect(body).toEqual({ error: 'invalid_authorization_details', error_description: "the role 'reader' may not be granted the tool 'email.send'" });
  });
});

test("a role's maxTtl below the default ttl sets the lifetime of a grant that asks for none", async () => {
  const h = await createHarness();
  const res = await h.token(h.form(await h.svid(ADMIN), [{ type: 'tessera_tool', tool: 'tickets.read' }]));
  const claims = decodeJwt(((await res.json()) as { access_token: string }).access_token);
  expect(claims.exp! - claims.iat!).toBe(60);
});

test('a store that does not answer within storeTimeoutMs is temporarily_unavailable', async () => {
  const h = await createHarness({ server: { storeTimeoutMs: 50 } });
  h.store.consumeOnce = (() => new Promise<boolean>(() => undefined)) as never;
  const key = await createAgentKey('EdDSA', { clock: h.clock });
  expect((await oauthError(await h.token(h.form(await h.svid(SUPPORT)), { DPoP: await h.dpop(key) }), 503)).error).toBe('temporarily_unavailable');
});

test('an admin stop refuses new grants only at the authority process that received it', async () => {
  const h = await createHarness();
  const second = createAuthorityServer({
    authority: h.authority,
    identity: createJwtSvidVerifier({ audience: AUTHZ_AUDIENCE, trustDomains: { 'example.org': h.td.bundle() }, clock: h.clock }),
    grantPolicy: (await import('./support.js')).POLICY,
    store: h.store,
    clock: h.clock,
  });
  const stop = await h.server.fetch(
    new Request(`${ISSUER}/admin/revocations`, { method: 'POST', headers: { Authorization: `Bearer ${await h.svid(ADMIN)}`, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'agent', id: SUPPORT }) }),
  );
  expect(stop.status).toBe(201);
  expect((await h.token(h.form(await h.svid(SUPPORT)))).status).toBe(403);
  const other = await second.fetch(
    new Request(`${ISSUER}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(h.form(await h.svid(SUPPORT))).toString() }),
  );
  expect(other.status).toBe(200);
});

describe('createAuthorityServer options', () => {
  test.each([
    ['a misspelt option', { maxBodyByte: 1 }, TypeError, /maxBodyBytes/],
    ['a body bound below 1 KiB', { maxBodyBytes: 10 }, RangeError, /maxBodyBytes/],
    ['a rate limit of zero', { rateLimit: { burst: 0 } }, RangeError, /rateLimit\.burst/],
  ])('%s throws naming it', async (_n, extra, type, message) => {
    const h = await createHarness();
    const make = () =>
      createAuthorityServer({
        authority: h.authority,
        identity: { verify: () => Promise.reject(new Error('unused')) },
        grantPolicy: (TWO_ROLES),
        store: h.store,
        ...(extra as object),
      });
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });

  test('an authority whose issuer is not a URL origin throws a TypeError', async () => {
    const { createAuthority } = await import('../../../src/capability/authority.js');
    const authority = await createAuthority({ issuer: 'urn:tessera:authority' });
    const h = await createHarness();
    expect(() => createAuthorityServer({ authority, identity: { verify: () => Promise.reject(new Error('unused')) }, grantPolicy: TWO_ROLES, store: h.store })).toThrow(TypeError);
  });

  test('a grant policy naming an unknown admin role throws a TypeError', async () => {
    const h = await createHarness();
    expect(() => createAuthorityServer({ authority: h.authority, identity: { verify: () => Promise.reject(new Error('unused')) }, grantPolicy: { ...TWO_ROLES, admins: ['root'] }, store: h.store })).toThrow(/unknown role "root"/);
  });
});
