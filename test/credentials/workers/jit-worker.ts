/**
 * A guard process whose tool never returns: it reports the credential it was handed to the test
 * (test-only: a real tool never sends its credential anywhere) and waits to be killed with SIGKILL,
 * so that the call's `finally` never runs and the role or user is left behind.
 */
import { Redis as IORedis } from 'ioredis';
import pg from 'pg';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool, type CredentialProvider } from '../../../src/index.js';
import { createPostgresCredentials, postgresClientConfig } from '../../../src/credentials/postgres/index.js';
import { createRedisAclCredentials, redisAclAuth } from '../../../src/redis.js';

export interface JitWorkerConfig {
  system: 'postgres' | 'redis';
  port: number;
  adminUser: string;
  adminPassword: string;
  ttlSec: number;
}

export interface JitWorkerReport {
  principal: string;
  token: string;
  expiresAt: number;
}

const config = JSON.parse(process.argv[2]!) as JitWorkerConfig;
let provider: CredentialProvider;
if (config.system === 'postgres') {
  const admin = new pg.Pool({ host: '127.0.0.1', port: config.port, user: config.adminUser, password: config.adminPassword, database: 'postgres' });
  provider = createPostgresCredentials({
    admin,
    connection: { host: '127.0.0.1', port: config.port, database: 'postgres' },
    tools: { 'tickets.query': { select: ['tickets'] } },
    reapIntervalMs: 0,
  });
} else {
  const admin = new IORedis({ host: '127.0.0.1', port: config.port, username: config.adminUser, password: config.adminPassword, enableReadyCheck: false });
  provider = createRedisAclCredentials({
    admin,
    connection: { host: '127.0.0.1', port: config.port },
    tools: { 'tickets.query': { keys: ['tickets:*'], commands: ['get'] } },
    reapIntervalMs: 0,
  });
}
const authority = await createAuthority({ issuer: 'https://authz.example.com' });
const guard = createGuard({ audience: 'support-app', trust: { issuer: 'https://authz.example.com', jwks: () => authority.jwks() }, credentials: { provider, ttl: config.ttlSec } });
const tool = guardTool(guard, { name: 'tickets.query', description: 'q', input: z.object({}), risk: 'read' }, async (_args, ctx) => {
  const principal = config.system === 'postgres' ? postgresClientConfig(ctx.credential).user : redisAclAuth(ctx.credential).username;
  const report: JitWorkerReport = { principal, token: ctx.credential.token, expiresAt: ctx.credential.expiresAt };
  process.send!(report);
  await new Promise(() => undefined);
});
const cap = await authority.grant({ agent: 'spiffe://example.org/agents/support', audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'tickets.query': {} } });
await guard.withCapability(cap, () => tool({}));
