/**
 * A real PostgreSQL server for tests and benchmarks: a throwaway data directory (initdb) in a temp
 * dir, TCP on loopback only at a free port (SCRAM-SHA-256 passwords), and a unix socket in the
 * same temp dir on which the bootstrap superuser logs in without a password. PostgreSQL refuses
 * to run as root, so as root the server runs as the `postgres` OS user the Debian package creates.
 *
 * No vitest import here: the benchmark uses it too.
 */
import { enabledOrSkipped, freePort } from './environment.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** Where Debian's postgresql package installs the server; newest first. */
function binDir(): string | undefined {
  if (process.env.PG_BIN !== undefined) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** Whether a PostgreSQL server can be run on this machine. */
export function hasPostgresServer(): boolean {
  const dir = binDir();
  if (dir === undefined) return false;
  const r = spawnSync(join(dir, 'postgres'), ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/**
 * For test files: true when PostgreSQL tests can run. A missing server is a loud skip on a
 * developer's machine and an error in CI (`CI=true`).
 */
export function postgresTestsEnabled(): boolean {
  return enabledOrSkipped(
    hasPostgresServer(),
   
    'PostgreSQL is not installed: the PostgreSQL credential tests are SKIPPED. Install it (Debian/Ubuntu: apt-get install -y postgresql) to run them.',
  );
}

export interface PostgresServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly database: string;
  /** A client logged in as the bootstrap superuser over the unix socket (setting up tests only). */
  superuser(): pg.Client;
  /** A client logged in over TCP with a password, as any role. */
  client(user: string, password: string): pg.Client;
  stop(): Promise<void>;
}

const SUPERUSER = 'tessera_bootstrap';

export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = binDir();
  if (bin === undefined) throw new Error('PostgreSQL server binaries not found (set PG_BIN or install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pg-'));
  const data = join(dir, 'data');
  // As root, everything runs as the `postgres` OS user, which must own the temp dir.
  const asRoot = userInfo().uid === 0;
  let ids: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (id.status !== 0) throw new Error('running as root, and there is no `postgres` OS user to run PostgreSQL as');
    ids = { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
    chownSync(dir, ids.uid, ids.gid);
  }
  chmodSync(dir, 0o700);
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, 'unused-bootstrap-password\n', { mode: 0o600 });
  if (ids !== undefined) chownSync(pwfile, ids.uid, ids.gid);
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', SUPERUSER, '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale=C'],
    { encoding: 'utf8', ...(ids ?? {}) },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);

  let port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const proc = spawn(
      join(bin, 'postgres'),
      [
        '-D', data,
        '-p', String(port),
        '-c', 'listen_addresses=127.0.0.1',
        '-c', `unix_socket_directories=${dir}`,
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'max_connections=200',
        '-c', 'password_encryption=scram-sha-256',
        '-c', 'log_min_messages=fatal',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], ...(ids ?? {}) },
    );
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited) throw new Error(`postgres exited while starting on port ${port}: ${stderr}`);
      const c = new pg.Client({ host: dir, port, user: SUPERUSER, database: 'postgres' });
      try {
        await c.connect();
        await c.end();
        return;
      } catch {
        await c.end().catch(() => undefined);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for postgres on port ${port}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      // SIGQUIT: immediate shutdown; the data directory is thrown away anyway.
      proc.kill('SIGQUIT');
    });
  };
  try {
    await launch();
  } catch {
    // Another process may have taken the port between probing and binding: try once more.
    await halt();
    port = await freePort();
    await launch();
  }
  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    database: 'postgres',
    superuser: () => new pg.Client({ host: dir, port, user: SUPERUSER, database: 'postgres' }),
    client: (user, password) => new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' }),
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
