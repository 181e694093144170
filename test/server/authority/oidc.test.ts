import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createAuthority } from '../../../src/capability/authority.js';
import { createOidcVerifier } from '../../../src/identity/oidc.js';
import { createIdentityRouter } from '../../../src/identity/router.js';
import { createAuthorityServer } from '../../../src/server/authority/index.js';
import { createMemoryStore } from '../../../src/store/memory.js';
import { startOidcProvider, type TestOidcProvider } from '../../identity/oidc-server.js';
import { AUTHZ_AUDIENCE, GUARD_AUDIENCE, ISSUER, oauthError, TOKEN_EXCHANGE } from './support.js';

let op: TestOidcProvider;
beforeAll(async () => {
  op = await startOidcProvider(['agent-support', 'agent-billing'], AUTHZ_AUDIENCE);
});
afterAll(() => op.stop());

async function server() {
  const store = createMemoryStore();
  const authority = await createAuthority({ issuer: ISSUER, store });
  return createAuthorityServer({
    authority,
    identity: createIdentityRouter({ oidc: { [op.issuer]: createOidcVerifier({ issuer: op.issuer, audience: AUTHZ_AUDIENCE, typ: 'at+jwt' }) } }),
    grantPolicy: { roles: [{ name: 'support', match: [{ issuer: op.issuer, claims: { client_id: 'agent-support' } }], ceiling: { tools: { 'tickets.read': {} }, maxTtl: '5m' } }] },
    store,
  });
}

const exchange = (s: Awaited<ReturnType<typeof server>>, token: string, type: string) =>
  s.fetch(
    new Request(`${ISSUER}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        subject_token: token,
        subject_token_type: type,
        audience: GUARD_AUDIENCE,
        authorization_details: JSON.stringify([{ type: 'tessera_intent', id: 'i-1', purpose: 'p' }, { type: 'tessera_tool', tool: 'tickets.read' }]),
      }).toString(),
    }),
  );

test.each(['access_token', 'id_token', 'jwt'])('an OIDC access token from a real provider (subject_token_type %s) is exchanged for a capability of <iss>#<sub>', async (type) => {
  const s = await server();
  const res = await exchange(s, await op.token('agent-support'), `urn:ietf:params:oauth:token-type:${type}`);
  expect(res.status).toBe(200);
  expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).sub).toBe(`${op.issuer}#agent-support`);
});

test('an OIDC client whose claims match no role is access_denied', async () => {
  const s = await server();
  expect((await oauthError(await exchange(s, await op.token('agent-billing'), 'urn:ietf:params:oauth:token-type:access_token'), 403)).error).toBe('access_denied');
});
