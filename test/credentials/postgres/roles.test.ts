/**
 * Per-call PostgreSQL roles against a real server: the tool reads what its declaration and the
 * grant allow and nothing else, the role is gone (and its password useless) when the call ends,
 * concurrent calls never share a role, and every provisioning failure denies the call.
 */
import { inspect } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { isToolDeniedError } from '../../../src/index.js';
import { advisoryLockName, createPostgresCredentials, postgresClientConfig, type PostgresCredentialProvider } from '../../../src/credentials/postgres/index.js';
import { createSpanCapture } from '../../support/otel.js';
import { postgresTestsEnabled } from '../../support/postgres-server.js';
import { ADMIN, ADMIN_PASSWORD, AGENT, AUDIENCE, guardTool, pgGuard, sqlOutcome, startPgFixture, tableInput, tryConnect, type PgFixture } from './support.js';

const enabled = postgresTestsEnabled();
let fx: PgFixture;
const providers: PostgresCredentialProvider[] = [];
const capture = createSpanCapture();

beforeAll(async () => {
  if (enabled) fx = await startPgFixture();
}, 60_000);
afterAll(async () => {
  for (const p of providers) p.close();
  await fx?.stop();
  await capture.shutdown();
});

function provider(extra: Partial<Parameters<typeof createPostgresCredentials>[0]> = {}): PostgresCredentialProvider {
  const p = createPostgresCredentials({
    admin: fx.admin,
    connection: { host: fx.server.host, port: fx.server.port, database: fx.server.database },
    tools: {
      'tickets.query': { select: ['tickets', 'customers'], narrowBy: 'table' },
      'tickets.add': { select: ['tickets'], insert: ['tickets'] },
      'payroll.read': { select: ['payroll'] },
    },
    reapIntervalMs: 0,
    ...extra,
  });
  providers.push(p);
  return p;
}

const grantFor = (authority: Awaited<ReturnType<typeof pgGuard>>['authority'], tools: Parameters<typeof authority.grant>[0]['tools']) =>
  authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' }, tools, ttl: '5m' });

/** The SQLSTATE (or `ok`) of each statement, run inside the tool with the credential it was handed. */
async function runAs(connectionString: string, statements: readonly string[]): Promise<string[]> {
  const c = await tryConnect(connectionString);
  if (typeof c === 'string') return [`connect:${c}`];
  try {
    const out: string[] = [];
    for (const s of statements) out.push(await sqlOutcome(c, s));
    return out;
  } finally {
    await c.end();
  }
}

describe.skipIf(!enabled)('PostgreSQL roles per call', () => {
  test('the provisioning role is not a superuser: CREATEROLE and grant options, nothing more', async () => {
    const r = await fx.su.query(
      `SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, (SELECT count(*) FROM pg_auth_members WHERE member = pg_roles.oid)::int AS memberships
       FROM pg_roles WHERE rolname = $1`,
      [ADMIN],
    );
    expect(r.rows[0]).toEqual({ rolsuper: false, rolcreaterole: true, rolcreatedb: false, rolreplication: false, rolbypassrls: false, memberships: 0 });
    const grants = await fx.su.query(
      `SELECT table_name, privilege_type, is_grantable FROM information_schema.role_table_grants WHERE grantee = $1 ORDER BY 1, 2`,
      [ADMIN],
    );
    expect(grants.rows).toEqual([
      { table_name: 'customers', privilege_type: 'SELECT', is_grantable: 'YES' },
      { table_name: 'tickets', privilege_type: 'INSERT', is_grantable: 'YES' },
      { table_name: 'tickets', privilege_type: 'SELECT', is_grantable: 'YES' },
    ]);
  });

  test('the tool reads the granted table; any other table fails with a permission error inside the tool', async () => {
    const { guard, authority } = await pgGuard(provider());
    const query = guardTool(guard, { name: 'tickets.query', description: 'Query a table', input: tableInput, risk: 'read' }, async (_args, ctx) =>
      runAs(ctx.credential.token, ['SELECT count(*) FROM tickets', 'SELECT count(*) FROM customers', 'SELECT count(*) FROM payroll', "INSERT INTO tickets (subject) VALUES ('x')"]),
    );
    const cap = await grantFor(authority, { 'tickets.query': { args: { table: { in: ['tickets'] } } } });
    // SELECT on tickets only: customers is declared but the grant narrows it away; payroll was never declared; no INSERT for a read tool.
    expect(await guard.withCapability(cap, () => query({ table: 'tickets' }))).toEqual(['ok', '42501', '42501', '42501']);
  });

  test('without a narrowing constraint the role gets every declared table; a write tool gets INSERT', async () => {
    const { guard, authority } = await pgGuard(provider());
    const query = guardTool(guard, { name: 'tickets.query', description: 'Query a table', input: tableInput, risk: 'read' }, async (_args, ctx) =>
      runAs(ctx.credential.token, ['SELECT count(*) FROM tickets', 'SELECT count(*) FROM customers', 'SELECT count(*) FROM payroll']),
    );
    const add = guardTool(guard, { name: 'tickets.add', description: 'Add a ticket', input: z.object({ subject: z.string() }), risk: 'write' }, async (args, ctx) => {
      const c = new pg.Client(postgresClientConfig(ctx.credential));
      await c.connect();
      try {
        // The subject is a bound parameter: argument values never become SQL text.
        const r = await c.query<{ id: number }>('INSERT INTO tickets (subject) VALUES ($1) RETURNING id', [args.subject]);
        return [typeof r.rows[0]?.id, await sqlOutcome(c, 'DELETE FROM tickets')];
      } finally {
        await c.end();
      }
    });
    const cap = await grantFor(authority, { 'tickets.query': {}, 'tickets.add': {} });
    expect(await guard.withCapability(cap, () => query({ table: 'anything' }))).toEqual(['ok', 'ok', '42501']);
    expect(await guard.withCapability(cap, () => add({ subject: "'); DROP TABLE tickets; --" }))).toEqual(['number', '42501']);
  });

  test('after the call the role no longer exists and its password no longer logs in', async () => {
    const { guard, authority } = await pgGuard(provider());
    let url = '';
    let role = '';
    const query = guardTool(guard, { name: 'tickets.query', description: 'q', input: tableInput, risk: 'read' }, async (_args, ctx) => {
      url = ctx.credential.token;
      role = postgresClientConfig(ctx.credential).user;
      return runAs(url, ['SELECT 1']);
    });
    const cap = await grantFor(authority, { 'tickets.query': {} });
    expect(await guard.withCapability(cap, () => query({ table: 'tickets' }))).toEqual(['ok']);
    expect(role).toMatch(/^tessera_jit_[a-z2-7]{26}$/);
    expect(await fx.roles()).not.toContain(role);
    // 28P01: password authentication failed (the role is gone).
    expect(await tryConnect(url)).toBe('28P01');
  });

  test('VALID UNTIL is the call credential expiry', async () => {
    const { guard, authority } = await pgGuard(provider(), { credentials: { provider: provider(), ttl: '20s' } });
    const query = guardTool(guard, { name: 'tickets.query', description: 'q', input: tableInput, risk: 'read' }, async (_args, ctx) => {
      const r = await fx.su.query<{ until: Date }>(
        'SELECT rolvaliduntil AS until, rolconnlimit, rolsuper, rolcreaterole, rolcreatedb, rolinherit, rolreplication, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1',
        [postgresClientConfig(ctx.credential).user],
      );
      const { until, ...attributes } = r.rows[0]!;
      return { until: until.getTime(), attributes, expiresAt: ctx.credential.expiresAt };
    });
    const before = Date.now();
    const cap = await grantFor(authority, { 'tickets.query': {} });
    const { until, attributes, expiresAt } = await guard.withCapability(cap, () => query({ table: 'tickets' }));
    expect(until).toBe(expiresAt);
    expect(attributes).toEqual({ rolconnlimit: 4, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolinherit: false, rolreplication: false, rolbypassrls: false, rolcanlogin: true });
    expect(expiresAt - before).toBeGreaterThan(18_000);
    expect(expiresAt - before).toBeLessThanOrEqual(21_000);
  });

  test('sessions the tool left open are terminated before the role is dropped', async () => {
    const { guard, authority } = await pgGuard(provider());
    const leaked: pg.Client[] = [];
    const query = guardTool(guard, { name: 'tickets.query', description: 'q', input: tableInput, risk: 'read' }, async (_args, ctx) => {
      const c = await tryConnect(ctx.credential.token);
      if (typeof c === 'string') throw new Error(c);
      leaked.push(c);
      return postgresClientConfig(ctx.credential).user;
    });
    const cap = await grantFor(authority, { 'tickets.query': {} });
    const role = await guard.withCapability(cap, () => query({ table: 'tickets' }));
    // 57P01: admin_shutdown, what pg_terminate_backend ends a session with.
    expect(await sqlOutcome(leaked[0]!, 'SELECT 1')).toMatch(/^(57P01|Connection terminated|Client has encountered a connection error and is not queryable)/);
    const sessions = await fx.su.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [role]);
    expect(sessions.rows[0]).toEqual({ n: 0 });
    expect(await fx.roles()).not.toContain(role);
    await leaked[0]!.end().catch(() => undefined);
  });

  test('50 concurrent calls each get their own role, and all are gone afterwards', async () => {
    const { guard, authority } = await pgGuard(provider());
    const query = guardTool(guard, { name: 'tickets.query', description: 'q', input: tableInput, risk: 'read' }, async (_args, ctx) => {
      const config = postgresClientConfig(ctx.credential);
      const c = new pg.Client(config);
      await c.connect();
      try {
        const r = await c.query<{ me: string; n: number }>('SELECT current_user AS me, (SELECT count(*)::int FROM tickets) AS n');
        return r.rows[0]!.me;
      } finally {
        await c.end();
      }
    });
    const cap = await grantFor(authority, { 'tickets.query': {} });
    const users = await guard.withCapability(cap, () => Promise.all(Array.from({ length: 50 }, () => query({ table: 'tickets' }))));
    expect(new Set(users).size).toBe(50);
    expect(await fx.roles()).toEqual([]);
  }, 60_000);

  test('the server is given a SCRAM-SHA-256 secret, never the password', async () => {
    const { guard, authority } = await pgGuard(provider());
    const query = guardTool(guard, { name: 'tickets.query', description: 'q', input: tableInput, risk: 'read' }, async (_args, ctx) => {
      const { user, password } = postgresClientConfig(ctx.credential);
      const r = await fx.su.query<{ secret: string }>('SELECT rolpassword AS secret FROM pg_authid WHERE rolname = $1', [user]);
      return { secret: r.rows[0]!.secret, password, login: await runAs(ctx.credential.token, ['SELECT 1']) };
    });
    const cap = await grantFor(authority, { 'tickets.query': {} });
    const { secret, password, login } = await guard.withCapability(cap, () => query({ table: 'tickets' }));
    expect(secret).toMatch(/^SCRAM-SHA-256\$16:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(secret).not.toContain(password);
    expect(login).toEqual(['ok']);
  });

  test('a call that outlives its credential loses its role at the next sweep; its own revoke then finds it gone', async () => {
    capture.reset();
    const p = provider({ reapIntervalMs: 1000 });
    const { guard, authority } = await pgGuard(p, { credentials: { provider: p, ttl: 1 }, telemetry: { tracer: capture.tracer } });
    const query = guardTool(guard, { name: 'tickets.query', description: 'q', input: tableInput, risk: 'read' }, async (_args, ctx) => {
      const role = postgresClientConfig(ctx.credential).user;
      const deadline = Date.now() + 10_000;
      while ((await fx.roles()).includes(role) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return { role, gone: !(await fx.roles()).includes(role), pastExpiry: Date.now() >= ctx.credential.expiresAt };
    });
    const cap = await grantFor(authority, { 'tickets.query': {} });
    const { role, gone, pastExpiry } = await guard.withCapability(cap, () => query({ table: 'tickets' }));
    expect([gone, pastExpiry]).toEqual([true, true]);
    const [span] = await capture.spans();
    expect(span!.attributes['tessera.credential.revoke_error']).toBeUndefined();
    expect(span!.events.at(-1)).toMatchObject({ name: 'tessera.credential.revoked', attributes: { 'tessera.credential.principal': role, 'tessera.credential.sessions_ended': 0 } });
  }, 20_000);

  test('the span records the role and its privileges; the password is nowhere: span, inspect, JSON', async () => {
    capture.reset();
    const { guard, authority } = await pgGuard(provider(), { telemetry: { tracer: capture.tracer } });
    const seen: { inspected: string; json: string; spread: string; password: string; role: string }[] = [];
    const query = guardTool(guard, { name: 'tickets.query', description: 'q', input: tableInput, risk: 'read' }, async (_args, ctx) => {
      const config = postgresClientConfig(ctx.credential);
      seen.push({ inspected: inspect(ctx.credential, { depth: 10, showHidden: true }), json: JSON.stringify(ctx.credential), spread: inspect({ ...ctx.credential }), password: config.password, role: config.user });
    });
    const cap = await grantFor(authority, { 'tickets.query': { args: { table: { in: ['customers'] } } } });
    await guard.withCapability(cap, () => query({ table: 'customers' }));
    const [{ inspected, json, spread, password, role }] = seen as [(typeof seen)[0]];
    expect(password.length).toBeGreaterThanOrEqual(43);
    for (const text of [inspected, json, spread]) {
      expect(text).toContain(role);
      expect(text).not.toContain(password);
    }
    const [span] = await capture.spans();
    const recorded = JSON.stringify({ attributes: span!.attributes, events: span!.events });
    expect(recorded).not.toContain(password);
    expect(span!.events.map((e) => [e.name, e.attributes])).toEqual([
      ['tessera.credential.provisioned', { 'tessera.credential.system': 'postgresql', 'tessera.credential.principal': role, 'tessera.credential.privileges': 'SELECT customers' }],
      ['tessera.credential.revoked', { 'tessera.credential.system': 'postgresql', 'tessera.credential.principal': role, 'tessera.credential.sessions_ended': 0 }],
    ]);
  });
});

describe.skipIf(!enabled)('provisioning failures deny the call credential_unavailable; the tool never runs', () => {
  async function attempt(p: PostgresCredentialProvider, tool: string, grant: Record<string, unknown>, overrides = {}, table = 'tickets') {
    const { guard, authority } = await pgGuard(p, overrides);
    let ran = false;
    const t = guardTool(guard, { name: tool, description: 't', input: tableInput, risk: 'read' }, () => {
      ran = true;
    });
    const cap = await grantFor(authority, { [tool]: grant });
    const err = await guard.withCapability(cap, () => t({ table })).then(() => undefined, (e: unknown) => e);
    expect(isToolDeniedError(err)).toBe(true);
    return { code: (err as { code: string }).code, reason: (err as { reason: string }).reason, ran, err };
  }

  test('a tool with no declared privileges', async () => {
    const r = await attempt(provider(), 'tickets.delete', {});
    expect([r.code, r.ran]).toEqual(['credential_unavailable', false]);
    expect(r.reason).toMatch(/no PostgreSQL privileges are declared for "tickets.delete"/);
  });

  test('a grant that leaves none of the declared tables', async () => {
    const r = await attempt(provider(), 'tickets.query', { args: { table: { in: ['payroll'] } } }, {}, 'payroll');
    expect([r.code, r.ran]).toEqual(['credential_unavailable', false]);
    expect(await fx.roles()).toEqual([]);
  });

  test('a table the provisioning role holds no privilege on: the transaction rolls back, no role is left', async () => {
    const r = await attempt(provider(), 'payroll.read', {});
    expect([r.code, r.ran]).toEqual(['credential_unavailable', false]);
    expect(r.reason).toMatch(/SQLSTATE 42501/);
    expect(inspect(r.err, { depth: 10, showHidden: true })).not.toContain(ADMIN_PASSWORD);
    expect(await fx.roles()).toEqual([]);
  });

  test('a privilege held without the grant option (PostgreSQL only warns): the role is dropped at once', async () => {
    await fx.su.query(`GRANT UPDATE ON tickets TO ${ADMIN}`);
    try {
      const p = provider({ tools: { 'tickets.fix': { update: ['tickets'] } } });
      const r = await attempt(p, 'tickets.fix', {});
      expect([r.code, r.ran]).toEqual(['credential_unavailable', false]);
      expect(r.reason).toMatch(/lacks the grant option for UPDATE tickets/);
      expect(await fx.roles()).toEqual([]);
    } finally {
      await fx.su.query(`REVOKE UPDATE ON tickets FROM ${ADMIN}`);
    }
  });

  test('an unreachable server', async () => {
    const dead = new pg.Pool({ host: '127.0.0.1', port: 1, user: ADMIN, password: ADMIN_PASSWORD, database: 'postgres' });
    const p = provider({ admin: dead });
    const r = await attempt(p, 'tickets.query', {});
    expect([r.code, r.ran]).toEqual(['credential_unavailable', false]);
    expect(inspect(r.err, { depth: 10, showHidden: true })).not.toContain(ADMIN_PASSWORD);
    await dead.end();
  });

  test('a server that does not answer within the deadline; the role created late is dropped', async () => {
    // Another transaction holding the provider's advisory lock holds the creation well past the deadline.
    const locker = fx.server.superuser();
    await locker.connect();
    await locker.query(`BEGIN; SELECT pg_advisory_xact_lock(hashtext($$${advisoryLockName('tessera_jit_')}$$))`);
    const p = provider();
    const started = Date.now();
    const r = await attempt(p, 'tickets.query', {}, { timeouts: { credentialMs: 300 } });
    expect([r.code, r.ran]).toEqual(['credential_unavailable', false]);
    expect(r.reason).toMatch(/the credential provider did not answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
    await locker.query('COMMIT');
    await locker.end();
    // The creation completes once the lock is gone; the provider sees the call gave up and drops it.
    const busy = async () => (await fx.su.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND state <> 'idle'`, [ADMIN])).rows[0].n as number;
    const deadline = Date.now() + 10_000;
    while ((await busy()) > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    await new Promise((res) => setTimeout(res, 200));
    expect(await busy()).toBe(0);
    expect(await fx.roles()).toEqual([]);
  });
});
