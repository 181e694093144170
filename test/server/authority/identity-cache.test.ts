import { beforeEach, describe, expect, test } from 'vitest';
import { createJwtSvidVerifier } from '../../../src/identity/jwt-svid.js';
import type { AgentIdentity, IdentityVerifier } from '../../../src/identity/types.js';
import { createAuthorityServer, type AuthorityServer, type AuthorityServerOptions } from '../../../src/server/authority/index.js';
import { ADMIN, AUTHZ_AUDIENCE, createHarness, HELPER, ISSUER, oauthError, POLICY, SUPPORT, type Harness } from './support.js';

/** The real JWT-SVID verifier, counting how often the server asks it. */
function counted(h: Harness): IdentityVerifier & { calls: number } {
  const real = createJwtSvidVerifier({ audience: AUTHZ_AUDIENCE, trustDomains: { 'example.org': h.td.bundle() }, clock: h.clock });
  const v = {
    calls: 0,
    verify(token: string): Promise<AgentIdentity> {
      v.calls++;
      return real.verify(token);
    },
  };
  return v;
}

let h: Harness;
let identity: ReturnType<typeof counted>;
let server: AuthorityServer;
const serve = (options: Partial<AuthorityServerOptions> = {}) =>
  createAuthorityServer({ authority: h.authority, identity, grantPolicy: POLICY, store: h.store, clock: h.clock, ...options });
const token = (s: AuthorityServer, form: Record<string, string>) =>
  s.fetch(new Request(`${ISSUER}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() }));

beforeEach(async () => {
  h = await createHarness();
  identity = counted(h);
  server = serve();
});

describe('a subject token is verified once and its identity reused', () => {
  test('three grants with one JWT-SVID ask the identity verifier once', async () => {
    const form = h.form(await h.svid(SUPPORT, { ttl: 600 }));
    for (let i = 0; i < 3; i++) expect((await token(server, form)).status).toBe(200);
    expect(identity.calls).toBe(1);
  });

  test('at the token exp the identity is verified again, and past the verifier skew the token is refused', async () => {
    const form = h.form(await h.svid(SUPPORT, { ttl: 60 }));
    expect((await token(server, form)).status).toBe(200);
    h.clock.advance('60s');
    expect((await token(server, form)).status).toBe(200);
    expect(identity.calls).toBe(2);
    h.clock.advance('31s');
    const body = await oauthError(await token(server, form), 400);
    expect(body).toEqual({ error: 'invalid_request', error_description: 'the subject_token is not acceptable: the JWT-SVID has expired; fetch a fresh one from the Workload API' });
  });

  test('no identity is kept longer than identityCacheSec, even when its token lives longer', async () => {
    server = serve({ identityCacheSec: 10 });
    const form = h.form(await h.svid(SUPPORT, { ttl: 3600 }));
    expect((await token(server, form)).status).toBe(200);
    h.clock.advance('9s');
    expect((await token(server, form)).status).toBe(200);
    expect(identity.calls).toBe(1);
    h.clock.advance('1s');
    expect((await token(server, form)).status).toBe(200);
    expect(identity.calls).toBe(2);
  });

  test('identityCacheSec: 0 verifies every request', async () => {
    server = serve({ identityCacheSec: 0 });
    const form = h.form(await h.svid(SUPPORT, { ttl: 600 }));
    for (let i = 0; i < 3; i++) expect((await token(server, form)).status).toBe(200);
    expect(identity.calls).toBe(3);
  });

  test('the cache holds at most identityCacheSize tokens, dropping the oldest', async () => {
    server = serve({ identityCacheSize: 1 });
    const support = h.form(await h.svid(SUPPORT, { ttl: 600 }));
    const helper = h.form(await h.svid(HELPER, { ttl: 600 }), [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }]);
    for (const form of [support, helper, support, support]) expect((await token(server, form)).status).toBe(200);
    expect(identity.calls).toBe(3);
  });

  test('a refused token is not remembered: the verifier is asked again', async () => {
    const form = h.form(await h.svid(SUPPORT, { ttl: 600, aud: 'elsewhere' }));
    for (let i = 0; i < 2; i++) expect((await oauthError(await token(server, form), 400)).error).toBe('invalid_request');
    expect(identity.calls).toBe(2);
  });

  test('an identity without exp is never kept', async () => {
    const forever: IdentityVerifier & { calls: number } = {
      calls: 0,
      async verify() {
        forever.calls++;
        return { id: SUPPORT, source: 'jwt-svid' };
      },
    };
    identity = forever;
    server = serve();
    const form = h.form(await h.svid(SUPPORT, { ttl: 600 }));
    for (let i = 0; i < 2; i++) expect((await token(server, form)).status).toBe(200);
    expect(forever.calls).toBe(2);
  });

  test("an administrator's stop refuses the next grant to an agent whose identity is cached", async () => {
    const form = h.form(await h.svid(SUPPORT, { ttl: 600 }));
    expect((await token(server, form)).status).toBe(200);
    const stop = await server.fetch(
      new Request(`${ISSUER}/admin/revocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', Authorization: `Bearer ${await h.svid(ADMIN)}` },
        body: JSON.stringify({ kind: 'agent', id: SUPPORT }),
      }),
    );
    expect(stop.status).toBe(201);
    expect((await oauthError(await token(server, form), 403)).error).toBe('access_denied');
    expect(identity.calls).toBe(2);
  });

  test.each([
    [{ identityCacheSec: -1 }, RangeError, /identityCacheSec/],
    [{ identityCacheSec: 3601 }, RangeError, /identityCacheSec/],
    [{ identityCacheSize: 0 }, RangeError, /identityCacheSize/],
    [{ identityCacheSec: 1.5 }, RangeError, /identityCacheSec/],
  ] as const)('%o is refused at construction, naming the option', (options, type, name) => {
    expect(() => serve(options)).toThrow(type);
    expect(() => serve(options)).toThrow(name);
  });
});
