/**
 * A real authority server on 127.0.0.1 (served by @hono/node-server's request listener), a real
 * SPIFFE trust domain issuing JWT-SVIDs and the real JWT-SVID verifier. The system clock: the
 * client's DPoP proofs carry real time, as they would in production.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createAuthority, type Authority } from '../../src/capability/authority.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { createAuthorityServer, type AuthorityServer, type AuthorityServerOptions, type GrantPolicy } from '../../src/server/authority/index.js';
import { createMemoryStore, type MemoryStore } from '../../src/store/memory.js';
import { createTestTrustDomain, type TestTrustDomain } from '../identity/trust-domain.js';

export const AUTHZ_AUDIENCE = 'urn:tessera:authority';
export const GUARD_AUDIENCE = 'support-app';
export const SUPPORT = 'spiffe://example.org/agents/support';
export const HELPER = 'spiffe://example.org/agents/helper';
export const INTENT = { id: 'ticket-4711', purpose: 'Answer ticket 4711' };

export const POLICY: GrantPolicy = {
  roles: [
    {
      name: 'support',
      match: [{ spiffe: SUPPORT }],
      ceiling: {
        tools: { 'tickets.read': { maxCalls: 10 }, 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 3 } },
        maxTtl: '15m',
      },
    },
    { name: 'helper', match: [{ spiffe: HELPER }], ceiling: { tools: { 'tickets.read': { maxCalls: 2 } }, maxTtl: '5m', maxDelegationDepth: 1 } },
  ],
};

export interface LiveAuthority {
  readonly issuer: string;
  readonly authority: Authority;
  readonly server: AuthorityServer;
  readonly store: MemoryStore;
  readonly td: TestTrustDomain;
  /** Requests received, by path. */
  readonly hits: string[];
  svid(sub: string): Promise<string>;
  close(): Promise<void>;
}

export async function startAuthority(
  options: {
    server?: Partial<AuthorityServerOptions>;
    /** Runs in front of the server's handler: what an authority in between would answer. */
    front?: (request: Request, next: (request: Request) => Promise<Response>) => Promise<Response>;
  } = {},
): Promise<LiveAuthority> {
  const hits: string[] = [];
  let handle: (req: Request) => Promise<Response> = async () => new Response(null, { status: 503 });
  const http: Server = createServer(getRequestListener((req) => handle(req)));
  http.on('request', (req) => hits.push(req.url ?? ''));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const clock = Date.now;
  const td = await createTestTrustDomain('example.org', { clock, audience: AUTHZ_AUDIENCE });
  const store = createMemoryStore({ clock });
  const identity = createJwtSvidVerifier({ audience: AUTHZ_AUDIENCE, trustDomains: { 'example.org': td.bundle() }, clock, timeoutMs: 2000 });
  const authority = await createAuthority({ issuer, clock, store, maxTtl: '1h' });
  const server = createAuthorityServer({ authority, identity, grantPolicy: POLICY, store, clock, ...options.server });
  const next = (req: Request) => server.fetch(req);
  handle = options.front === undefined ? next : (req) => options.front!(req, next);
  return {
    issuer,
    authority,
    server,
    store,
    td,
    hits,
    svid: (sub) => td.svid(sub),
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
      await store.close?.();
    },
  };
}
