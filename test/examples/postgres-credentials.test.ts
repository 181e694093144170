/**
 * examples/postgres-credentials.ts against a real PostgreSQL server, with a provisioning role made
 * as the example's header asks: LOGIN CREATEROLE, not a superuser, allowed to create tables.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { postgresTestsEnabled, startPostgresServer, type PostgresServer } from '../support/postgres-server.js';

const enabled = postgresTestsEnabled();
let server: PostgresServer | undefined;
let adminUrl = '';

beforeAll(async () => {
  if (!enabled) return;
  server = await startPostgresServer();
  const su = server.superuser();
  await su.connect();
  try {
    await su.query("CREATE ROLE example_admin LOGIN CREATEROLE PASSWORD 'example-admin-password'; GRANT CREATE ON SCHEMA public TO example_admin;");
  } finally {
    await su.end();
  }
  adminUrl = `postgresql://example_admin:example-admin-password@${server.host}:${server.port}/${server.database}`;
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

test.skipIf(!enabled)('examples/postgres-credentials.ts: a role per call, narrowed by the grant, gone when the call ends', { timeout: 60_000 }, async () => {
  // As documented: the admin connection string in TESSERA_PG_URL, through tsx.
  const { stdout } = await promisify(execFile)('node_modules/.bin/tsx', ['examples/postgres-credentials.ts'], { env: { ...process.env, TESSERA_PG_URL: adminUrl }, timeout: 50_000 });
  expect(stdout.trimEnd().split('\n')).toEqual([
    'A call that reads tessera_example_tickets:',
    '  the tool is connected as a role made for this call (tessera_jit_…)',
    '  SELECT from tessera_example_tickets: 2 rows',
    '  SELECT from tessera_example_customers with the same role: SQLSTATE 42501 (permission denied)',
    '  allowed',
    "  after the call, the role's connection string: SQLSTATE 28P01 (refused)",
    '  per-call roles left in the server: 0',
    'A call that reads tessera_example_customers:',
    '  denied: arguments_out_of_scope',
  ]);
});

test('examples/postgres-credentials.ts without TESSERA_PG_URL says how to run it and exits 0', { timeout: 60_000 }, async () => {
  const { TESSERA_PG_URL: _unset, ...env } = process.env;
  // execFile rejects on a non-zero exit code.
  const { stdout } = await promisify(execFile)('node_modules/.bin/tsx', ['examples/postgres-credentials.ts'], { env, timeout: 50_000 });
  expect(stdout.split('\n')[0]).toBe('This example needs a PostgreSQL server. Set TESSERA_PG_URL to the admin connection string');
  expect(stdout).toContain('TESSERA_PG_URL=postgresql://tessera_admin:PASSWORD@127.0.0.1:5432/DATABASE npx tsx examples/postgres-credentials.ts');
});
