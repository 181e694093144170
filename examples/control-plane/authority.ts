/**
 * Process 1 of 3: the authority service. It alone holds the signing key (read from the file
 * named by AUTHORITY_KEY_FILE), verifies agents' OIDC tokens, grants within each role's ceiling
 * and writes emergency stops to the Redis store every guard reads.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Redis } from 'ioredis';
import { createAuthority } from '../../src/capability/authority.js';
import { createOidcVerifier } from '../../src/identity/oidc.js';
import { createAuthorityServer, type GrantPolicy } from '../../src/server/authority/index.js';
import { createRedisStore } from '../../src/store/redis.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined || v === '') throw new TypeError(`${name} is required`);
  return v;
};

const oidcIssuer = env('OIDC_ISSUER');
const redisUrl = new URL(env('REDIS_URL'));

// The policy: the support agent may read tickets and email customers; on-call staff are admins.
const grantPolicy: GrantPolicy = {
  roles: [
    {
      name: 'support',
      match: [{ issuer: oidcIssuer, claims: { client_id: 'support-agent' } }],
      ceiling: {
        tools: { 'tickets.read': { maxCalls: 10 }, 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 3 } },
        maxTtl: '15m',
      },
    },
    { name: 'oncall', match: [{ issuer: oidcIssuer, claims: { client_id: 'oncall-admin' } }], ceiling: { tools: { 'tickets.read': {} }, maxTtl: '1m' } },
  ],
  admins: ['oncall'],
};

const redis = new Redis({ host: redisUrl.hostname, port: Number(redisUrl.port), enableOfflineQueue: false, lazyConnect: true });
await redis.connect();
const store = createRedisStore({ client: redis, timeoutMs: 1000 });

let serve: (request: Request) => Promise<Response> = async () => new Response(null, { status: 503 });
const http = createServer(getRequestListener((request) => serve(request)));
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

const authority = await createAuthority({
  issuer,
  signingKey: JSON.parse(readFileSync(env('AUTHORITY_KEY_FILE'), 'utf8')) as Record<string, string>,
  store,
  maxTtl: '1h',
});
const server = createAuthorityServer({
  authority,
  identity: createOidcVerifier({ issuer: oidcIssuer, audience: env('AUTHORITY_AUDIENCE'), identityClaim: 'client_id', typ: 'at+jwt' }),
  grantPolicy,
  store,
});
serve = (request) => server.fetch(request);

process.send?.({ type: 'ready', issuer });
process.on('disconnect', () => {
  http.closeAllConnections();
  http.close();
  redis.disconnect();
});
