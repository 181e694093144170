/**
 * A PostgreSQL role per call (`tessera-guard/postgres`): for each call, the guard creates a login
 * role that may read only the tables the tool declares and the grant allows, hands the tool a
 * connection string for it, and drops it when the call ends. The tool reads its table; the same
 * role is refused a table the grant left out (SQLSTATE 42501); the guard denies a call naming
 * that table (`arguments_out_of_scope`); after the call, the role's password no longer logs in.
 *
 * Needs a PostgreSQL server. Set TESSERA_PG_URL to the admin connection string of the
 * provisioning role, e.g.
 *
 *   TESSERA_PG_URL=postgresql://tessera_admin:...@127.0.0.1:5432/support npx tsx examples/postgres-credentials.ts
 *
 * That role needs LOGIN CREATEROLE (never a superuser) and, for this example only, the right to
 * create tables in the database's public schema: it creates tessera_example_tickets and
 * tessera_example_customers, and drops them when it is done. In production the provisioning role
 * owns no tables; it holds each privilege it hands out WITH GRANT OPTION (docs/credentials.md).
 * Without TESSERA_PG_URL, the example prints this and exits 0.
 */
import pg from 'pg';
import { z } from 'zod';
import { createAuthority, createGuard, guardTool, ToolDeniedError } from '../src/index.js';
import { createPostgresCredentials, postgresClientConfig } from '../src/credentials/postgres/index.js';

const SETUP = `
  CREATE TABLE tessera_example_tickets (id int PRIMARY KEY, subject text NOT NULL);
  CREATE TABLE tessera_example_customers (id int PRIMARY KEY, name text NOT NULL);
  INSERT INTO tessera_example_tickets VALUES (4711, 'printer on fire'), (4712, 'cannot log in');
  INSERT INTO tessera_example_customers VALUES (1, 'Ada'), (2, 'Grace');
`;
const TEARDOWN = 'DROP TABLE IF EXISTS tessera_example_tickets, tessera_example_customers';

/** The SQLSTATE an attempt fails with, or what it returned. */
const outcome = async <T>(f: () => Promise<T>): Promise<T | string> => {
  try {
    return await f();
  } catch (err) {
    return `SQLSTATE ${String((err as { code?: unknown }).code ?? 'unknown')}`;
  }
};

export async function postgresCredentialsExample(adminUrl: string): Promise<string[]> {
  const out: string[] = [];
  const say = (line: string) => out.push(line);
  const url = new URL(adminUrl);
  const admin = new pg.Pool({ connectionString: adminUrl, max: 4 });
  admin.on('error', () => undefined);
  const credentials = createPostgresCredentials({
    admin,
    connection: { host: url.hostname, port: Number(url.port || 5432), database: decodeURIComponent(url.pathname.slice(1)) },
    tools: { 'tickets.query': { select: ['tessera_example_tickets', 'tessera_example_customers'], narrowBy: 'table' } },
  });
  try {
    await admin.query(TEARDOWN);
    await admin.query(SETUP);
    const authority = await createAuthority({ issuer: 'https://authz.example.com' });
    const guard = createGuard({ audience: 'support-app', trust: { issuer: authority.issuer, jwks: () => authority.jwks() }, credentials: { provider: credentials } });

    let handedOut = '';
    const query = guardTool(
      guard,
      { name: 'tickets.query', description: 'Read the rows of one table', input: z.object({ table: z.string() }), risk: 'read' },
      async ({ table }, ctx) => {
        handedOut = ctx.credential.token; // kept only to show, after the call, that it no longer works
        const db = new pg.Client(postgresClientConfig(ctx.credential));
        db.on('error', () => undefined);
        await db.connect();
        try {
          const me = await db.query<{ user: string }>('SELECT current_user AS user');
          say(`  the tool is connected as ${me.rows[0]!.user.startsWith('tessera_jit_') ? 'a role made for this call (tessera_jit_…)' : 'another role'}`);
          // The table name is an argument the grant has checked; it is still quoted as an identifier.
          const rows = await outcome(async () => (await db.query(`SELECT count(*)::int AS n FROM ${db.escapeIdentifier(table)}`)).rows[0].n as number);
          say(`  SELECT from ${table}: ${typeof rows === 'number' ? `${rows} rows` : rows}`);
          const other = await outcome(async () => (await db.query('SELECT count(*)::int AS n FROM tessera_example_customers')).rows[0].n as number);
          say(`  SELECT from tessera_example_customers with the same role: ${typeof other === 'number' ? `${other} rows` : `${other} (permission denied)`}`);
        } finally {
          await db.end();
        }
      },
    );

    const capability = await authority.grant({
      agent: 'spiffe://example.org/agents/support',
      audience: 'support-app',
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools: { 'tickets.query': { args: { table: { in: ['tessera_example_tickets'] } } } },
      ttl: '5m',
    });
    const attempt = async (table: string) => {
      say(`A call that reads ${table}:`);
      try {
        await query({ table }, { capability });
        say('  allowed');
      } catch (err) {
        if (!(err instanceof ToolDeniedError)) throw err;
        say(`  denied: ${err.code}`);
      }
    };

    await attempt('tessera_example_tickets');
    const after = new pg.Client({ connectionString: handedOut });
    after.on('error', () => undefined);
    const login = await outcome(async () => {
      await after.connect();
      return 'logged in';
    });
    await after.end().catch(() => undefined);
    say(`  after the call, the role's connection string: ${login === 'logged in' ? login : `${login} (refused)`}`);
    const left = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_roles WHERE starts_with(rolname, 'tessera_jit_')");
    say(`  per-call roles left in the server: ${left.rows[0]!.n}`);

    await attempt('tessera_example_customers');
    return out;
  } finally {
    credentials.close();
    await admin.query(TEARDOWN).catch(() => undefined);
    await admin.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const adminUrl = process.env.TESSERA_PG_URL;
  if (adminUrl === undefined || adminUrl === '') {
    console.log(`This example needs a PostgreSQL server. Set TESSERA_PG_URL to the admin connection string
of a provisioning role with LOGIN CREATEROLE (never a superuser) that may create tables in the
database's public schema, then run:

  TESSERA_PG_URL=postgresql://tessera_admin:PASSWORD@127.0.0.1:5432/DATABASE npx tsx examples/postgres-credentials.ts

Or run its test, which starts a throwaway server: npx vitest run test/examples/postgres-credentials.test.ts`);
  } else {
    for (const line of await postgresCredentialsExample(adminUrl)) console.log(line);
  }
}
