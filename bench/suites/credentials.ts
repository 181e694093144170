/**
 * Per-call downstream credentials against their floors, one call in flight, wall time (every call
 * waits on a server). The added cost is a guarded call with the provider minus the same call with
 * the built-in credential; the floor is the raw statements any correct provisioning needs, sent
 * by hand on the same server, as the same provisioning role or user, in the same shuffled rounds:
 *
 * - PostgreSQL: CREATE ROLE ... PASSWORD ... VALID UNTIL + GRANT (one round trip), ALTER ROLE
 *   NOLOGIN (one), ending the role's sessions + REVOKE + DROP ROLE (one).
 * - Redis: ACL SETUSER with key patterns and commands (one round trip), ACL DELUSER (one).
 */
import { Redis as IORedis } from 'ioredis';
import pg from 'pg';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool, type CredentialProvider } from '../../src/index.js';
import { createPostgresCredentials } from '../../src/credentials/postgres/index.js';
import { createRedisAclCredentials } from '../../src/redis.js';
import { startPgFixture } from '../../test/credentials/postgres/support.js';
import { hasPostgresServer } from '../../test/support/postgres-server.js';
import { hasRedisServer, startRedisServer } from '../../test/support/redis-server.js';
import { round, type Floor, type Harness } from '../harness.js';

const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'bench-app';
const AGENT = 'spiffe://example.org/agents/bench';

/** One guarded call of a tool whose body does nothing, with `provider` (or the built-in credential). */
async function guardedCall(provider: CredentialProvider | undefined) {
  const authority = await createAuthority({ issuer: ISSUER });
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, ...(provider ? { credentials: { provider } } : {}) });
  const read = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticket: z.string() }), risk: 'read' }, (args) => args.ticket);
  const capability = await authority.grant({
    agent: AGENT,
    audience: AUDIENCE,
    intent: { id: 'bench', purpose: 'Benchmark' },
    tools: { 'tickets.read': { args: { ticket: { eq: '4711' } } } },
    ttl: '1h',
  });
  const args = { ticket: '4711' };
  return () => read(args, { capability });
}

async function postgres(h: Harness): Promise<Record<string, number>> {
  const fx = await startPgFixture();
  try {
    const provider = createPostgresCredentials({
      admin: fx.admin,
      connection: { host: fx.server.host, port: fx.server.port, database: fx.server.database },
      tools: { 'tickets.read': { select: ['tickets'] } },
      reapIntervalMs: 0,
    });
    const builtIn = await guardedCall(undefined);
    const withRole = await guardedCall(provider);
    let n = 0;
    const raw = async (): Promise<void> => {
      const role = `bench_raw_${n++}`;
      const until = new Date(Date.now() + 30_000).toISOString();
      await fx.admin.query(`CREATE ROLE ${role} LOGIN PASSWORD ${pg.escapeLiteral(`pw-${role}-${Math.random()}`)} VALID UNTIL '${until}'; GRANT SELECT ON tickets TO ${role}`);
      await fx.admin.query(`ALTER ROLE ${role} NOLOGIN`);
      await fx.admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'; REVOKE ALL ON tickets FROM ${role}; DROP ROLE ${role}`,
      );
    };
    const r = await h.rounds(
      { 'credentials: pg raw CREATE ROLE + GRANT + DROP ROLE': raw, 'credentials: call, built-in credential (pg)': builtIn, 'credentials: call, Postgres role': withRole },
      { clock: 'wall', iterations: 25, rounds: 9, warmup: 10, floorIterations: 200 },
    );
    provider.close();
    const rawName = 'credentials: pg raw CREATE ROLE + GRANT + DROP ROLE';
    const added = r.ratio('credentials: call, Postgres role', { minus: 'credentials: call, built-in credential (pg)', floor: rawName });
    const addedMs = (r.us('credentials: call, Postgres role') - r.us('credentials: call, built-in credential (pg)')) / 1000;
    h.note('credentials: pg added per call (provider − built-in)', `${addedMs.toFixed(2)} ms; raw floor ${(r.us(rawName) / 1000).toFixed(2)} ms`);
    h.note('credentials: pg added / raw floor', `${added.toFixed(2)} (target <= 1.2)`);
    return { pg_credential_added_ms: round(addedMs), pg_provider_vs_raw: round(added), pg_raw_floor_ms: round(r.us(rawName) / 1000) };
  } finally {
    await fx.stop();
  }
}

async function redis(h: Harness): Promise<Record<string, number>> {
  const server = await startRedisServer({ durable: false });
  const root = new IORedis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
  await root.connect();
  await root.call('ACL', 'SETUSER', 'tessera_admin', 'on', '>bench-admin-password', '-@all', '+acl|setuser', '+acl|deluser', '+acl|users');
  const admin = new IORedis({ host: '127.0.0.1', port: server.port, username: 'tessera_admin', password: 'bench-admin-password', enableReadyCheck: false, lazyConnect: true });
  await admin.connect();
  try {
    const provider = createRedisAclCredentials({
      admin,
      connection: { host: '127.0.0.1', port: server.port },
      tools: { 'tickets.read': { keys: ['tickets:{{ticket}}:*'], commands: ['get', 'hget'] } },
      reapIntervalMs: 0,
    });
    const builtIn = await guardedCall(undefined);
    const withUser = await guardedCall(provider);
    let n = 0;
    const raw = async (): Promise<void> => {
      const user = `bench_raw_${n++}`;
      await admin.call('ACL', 'SETUSER', user, 'reset', 'on', `>pw-${user}-${Math.random()}`, '~tickets:4711:*', 'resetchannels', '-@all', '+get', '+hget');
      await admin.call('ACL', 'DELUSER', user);
    };
    const rawName = 'credentials: redis raw ACL SETUSER + DELUSER';
    const r = await h.rounds(
      { [rawName]: raw, 'credentials: call, built-in credential (redis)': builtIn, 'credentials: call, Redis ACL user': withUser },
      { clock: 'wall', iterations: 300, rounds: 15, warmup: 100, floorIterations: 200 },
    );
    provider.close();
    const added = r.ratio('credentials: call, Redis ACL user', { minus: 'credentials: call, built-in credential (redis)', floor: rawName });
    const addedMs = (r.us('credentials: call, Redis ACL user') - r.us('credentials: call, built-in credential (redis)')) / 1000;
    h.note('credentials: redis added per call (provider − built-in)', `${addedMs.toFixed(3)} ms; raw floor ${(r.us(rawName) / 1000).toFixed(3)} ms`);
    h.note('credentials: redis added / raw floor', `${added.toFixed(2)} (target <= 1.2)`);
    return { redis_acl_added_ms: round(addedMs), redis_acl_provider_vs_raw: round(added), redis_acl_raw_floor_ms: round(r.us(rawName) / 1000) };
  } finally {
    admin.disconnect();
    root.disconnect();
    await server.stop();
  }
}

export default async function credentialsSuite(h: Harness, _floor: Floor): Promise<Record<string, number | string>> {
  if (!hasPostgresServer()) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql)');
  if (!hasRedisServer()) throw new Error('redis-server is not installed (apt-get install -y redis-server)');
  return { ...(await postgres(h)), ...(await redis(h)) };
}
