/**
 * An authority server wired to real parts: a SPIFFE trust domain issuing JWT-SVIDs, the real
 * JWT-SVID verifier, a real authority, the in-memory store, a manual clock, real DPoP proofs.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { expect } from 'vitest';
import { createGuard } from '../../../src/guard/create-guard.js';
import type { JWKS } from '../../../src/jose/keys.js';
import { createAuthority, type Authority, type AuthorityOptions } from '../../../src/capability/authority.js';
import { createAgentKey, type AgentKey } from '../../../src/identity/agent-key.js';
import { createJwtSvidVerifier } from '../../../src/identity/jwt-svid.js';
import { createAuthorityServer, type AuthorityServer, type AuthorityServerOptions } from '../../../src/server/authority/index.js';
import type { GrantPolicy } from '../../../src/server/authority/grant-policy.js';
import { createMemoryStore, type MemoryStore } from '../../../src/store/memory.js';
import { createManualClock, type ManualClock } from '../../../src/testing/clock.js';
import { createTestTrustDomain, type TestTrustDomain } from '../../identity/trust-domain.js';

export const ISSUER = 'https://authz.example.com';
export const AUTHZ_AUDIENCE = 'urn:tessera:authority';
export const GUARD_AUDIENCE = 'support-app';
export const SUPPORT = 'spiffe://example.org/agents/support';
export const HELPER = 'spiffe://example.org/agents/helper';
export const ADMIN = 'spiffe://example.org/ops/oncall';
export const STRANGER = 'spiffe://example.org/other/stranger';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export const POLICY: GrantPolicy = {
  roles: [
    {
      name: 'support',
      match: [{ spiffe: 'spiffe://example.org/agents/support' }],
      ceiling: {
        tools: {
          'tickets.read': { maxCalls: 10 },
          'tickets.*': { args: { ticketId: { startsWith: 'T-' } }, maxCalls: 5 },
          'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 3 },
          'payments.refund': {},
        },
        maxTtl: '15m',
        maxDelegationDepth: 0,
      },
      approvalRequiredFor: ['payments.*'],
    },
    {
      name: 'helper',
      match: [{ spiffe: 'spiffe://example.org/agents/helper' }],
      ceiling: { tools: { 'tickets.read': { maxCalls: 2 } }, maxTtl: '5m', maxDelegationDepth: 1 },
    },
    { name: 'oncall', match: [{ spiffe: 'spiffe://example.org/ops/*' }], ceiling: { tools: { 'tickets.read': {} }, maxTtl: '1m' } },
  ],
  admins: ['oncall'],
};

export interface Harness {
  clock: ManualClock;
  td: TestTrustDomain;
  store: MemoryStore;
  authority: Authority;
  server: AuthorityServer;
  svid(sub: string, options?: Parameters<TestTrustDomain['svid']>[1]): Promise<string>;
  /** POST /token with these form parameters (and headers). */
  token(params: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
  /** The form of a plain grant for `tools` with the given subject token. */
  form(subjectToken: string, tools?: unknown[], extra?: Record<string, string>): Record<string, string>;
  dpop(key: AgentKey, overrides?: { htu?: string; htm?: string; iat?: number; jti?: string; header?: Record<string, unknown> }): Promise<string>;
}

export async function createHarness(
  options: { server?: Partial<AuthorityServerOptions>; authority?: Partial<AuthorityOptions>; policy?: GrantPolicy } = {},
): Promise<Harness> {
  const clock = createManualClock();
  const td = await createTestTrustDomain('example.org', { clock, audience: AUTHZ_AUDIENCE });
  const store = createMemoryStore({ clock });
  const identity = createJwtSvidVerifier({ audience: AUTHZ_AUDIENCE, trustDomains: { 'example.org': td.bundle() }, clock, timeoutMs: 2000 });
  const authority = await createAuthority({ issuer: ISSUER, clock, store, maxTtl: '1h', ...options.authority });
  const server = createAuthorityServer({ authority, identity, grantPolicy: options.policy ?? POLICY, store, clock, ...options.server });
  const svid = (sub: string, o?: Parameters<TestTrustDomain['svid']>[1]) => td.svid(sub, o);
  return {
    clock,
    td,
    store,
    authority,
    server,
    svid,
    token: (params, headers = {}) =>
      server.fetch(
        new Request(`${ISSUER}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams(params).toString(),
        }),
      ),
    form: (subjectToken, tools = [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 3 }], extra = {}) => ({
      grant_type: TOKEN_EXCHANGE,
      subject_token: subjectToken,
      subject_token_type: JWT_TYPE,
      audience: GUARD_AUDIENCE,
      authorization_details: JSON.stringify([{ type: 'tessera_intent', id: 'ticket-4711', purpose: 'Answer ticket 4711' }, ...tools]),
      ...extra,
    }),
    dpop: (key, o = {}) =>
      new SignJWT({ htm: o.htm ?? 'POST', htu: o.htu ?? `${ISSUER}/token`, iat: o.iat ?? Math.floor(clock() / 1000), jti: o.jti ?? randomBytes(16).toString('base64url') })
        .setProtectedHeader({ alg: key.signingKey.alg, typ: 'dpop+jwt', jwk: key.publicJwk as JWK, ...o.header })
        .sign(key.signingKey.privateKey),
  };
}

export { createAgentKey };

/** The OAuth error body of a refused request, after checking its status. */
export async function oauthError(res: Response, status: number): Promise<{ error: string; error_description: string }> {
  const body = (await res.json()) as { error: string; error_description: string };
  expect({ status: res.status, error: typeof body.error, description: typeof body.error_description }).toEqual({ status, error: 'string', description: 'string' });
  return body;
}

/** A real guard that trusts the server's published JWKS, read through its Web handler. */
export function guardFor(harness: Harness) {
  return createGuard({
    audience: GUARD_AUDIENCE,
    trust: { issuer: ISSUER, jwks: async () => (await (await harness.server.fetch(new Request(`${ISSUER}/jwks.json`))).json()) as JWKS },
    clock: harness.clock,
    identity: createJwtSvidVerifier({ audience: GUARD_AUDIENCE, trustDomains: { 'example.org': harness.td.bundle() }, clock: harness.clock }),
    requireIdentity: true,
    store: harness.store,
  });
}
