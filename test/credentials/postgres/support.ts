/**
 * One real PostgreSQL server per test file, bootstrapped with the tables the tests read and a
 * provisioning role that has exactly the documented rights: LOGIN CREATEROLE, and the privileges
 * it hands out WITH GRANT OPTION. Never a superuser.
 */
import pg from 'pg';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool, type Authority, type CredentialProvider, type Guard, type GuardOptions } from '../../../src/index.js';
import { createManualClock } from '../../../src/testing/clock.js';
import { startPostgresServer, type PostgresServer } from '../../support/postgres-server.js';

export const ISSUER = 'https://authz.example.com';
export const AUDIENCE = 'support-app';
export const AGENT = 'spiffe://example.org/agents/support';
export const ADMIN = 'tessera_admin';
export const ADMIN_PASSWORD = 'admin-password-for-tests-only';

/** The provisioning role, as docs/credentials.md tells an operator to create it. */
export const BOOTSTRAP_SQL = `
  CREATE TABLE tickets (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, subject text NOT NULL);
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
  CREATE TABLE payroll (id int PRIMARY KEY, salary int NOT NULL);
  INSERT INTO tickets (subject) VALUES ('printer on fire'), ('cannot log in');
  INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace');
  INSERT INTO payroll VALUES (1, 100000);
  CREATE ROLE ${ADMIN} LOGIN CREATEROLE PASSWORD '${ADMIN_PASSWORD}';
  GRANT SELECT, INSERT ON tickets TO ${ADMIN} WITH GRANT OPTION;
  GRANT SELECT ON customers TO ${ADMIN} WITH GRANT OPTION;
`;

export interface PgFixture {
  server: PostgresServer;
  admin: pg.Pool;
  /** A superuser client over the unix socket: for inspecting the catalog in assertions only. */
  su: pg.Client;
  roles(prefix?: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startPgFixture(): Promise<PgFixture> {
  const server = await startPostgresServer();
  const su = server.superuser();
  await su.connect();
  await su.query(BOOTSTRAP_SQL);
  const admin = new pg.Pool({ host: server.host, port: server.port, user: ADMIN, password: ADMIN_PASSWORD, database: server.database, max: 10 });
  // An idle pooled client whose server went away emits `error`; without a listener that throws.
  admin.on('error', () => undefined);
  return {
    server,
    admin,
    su,
    async roles(prefix = 'tessera_jit_') {
      const r = await su.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolname', [prefix]);
      return r.rows.map((row) => row.rolname);
    },
    async stop() {
      await admin.end().catch(() => undefined);
      await su.end().catch(() => undefined);
      await server.stop();
    },
  };
}

/** A guard on the wall clock (PostgreSQL checks VALID UNTIL against its own clock). */
export async function pgGuard(provider: CredentialProvider, overrides: Partial<GuardOptions> = {}): Promise<{ guard: Guard; authority: Authority }> {
  const clock = createManualClock(Date.now());
  const authority = await createAuthority({ issuer: ISSUER, clock });
  const guard = createGuard({
    audience: AUDIENCE,
    trust: { issuer: ISSUER, jwks: () => authority.jwks() },
    clock,
    credentials: { provider },
    ...overrides,
  });
  return { guard, authority };
}

export const tableInput = z.object({ table: z.string() });
export { guardTool };

/** Connects with the connection string the tool was handed; resolves with the client or the SQLSTATE of the failure. */
export async function tryConnect(connectionString: string): Promise<pg.Client | string> {
  const c = new pg.Client({ connectionString });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return c;
  } catch (err) {
    await c.end().catch(() => undefined);
    return String((err as { code?: unknown }).code ?? (err as Error).message);
  }
}

/** The SQLSTATE a query fails with, or `ok`. */
export async function sqlOutcome(client: pg.Client, text: string): Promise<string> {
  try {
    await client.query(text);
    return 'ok';
  } catch (err) {
    return String((err as { code?: unknown }).code ?? (err as Error).message);
  }
}
