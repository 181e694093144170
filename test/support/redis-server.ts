/**
 * A real redis-server for tests and benchmarks: loopback only, a free port, its own data
 * directory, append-only file fsynced on every write (so a killed server loses nothing it
 * acknowledged), and the DEBUG command enabled for local clients (to simulate a slow server).
 *
 * No vitest import here: the benchmark uses it too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills the server with SIGKILL, as a crash would; the data directory stays. */
  kill(): Promise<void>;
  /** Starts the server again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** Whether `redis-server` can be run on this machine. */
export function hasRedisServer(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/**
 * For test files: true when Redis tests can run. A missing server is a loud skip on a developer's
 * machine and an error in CI (`CI=true`), so the Redis tests are never silently skipped there.
 */
export function redisTestsEnabled(): boolean {
  if (hasRedisServer()) return true;
  const message =
    'redis-server is not installed: the Redis store tests are SKIPPED. Install it (Debian/Ubuntu: apt-get install -y redis-server) to run them.';
  if (process.env.CI === 'true') throw new Error(`${message} In CI this is a failure.`);
  console.warn(`\n${'!'.repeat(100)}\n${message}\n${'!'.repeat(100)}\n`);
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface RedisServerOptions {
  /**
   * Append-only file fsynced on every write, so a killed server keeps everything it acknowledged;
   * default true. The benchmark turns it off: an fsync per write measures the disk, not Redis.
   */
  durable?: boolean;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const durable = options.durable ?? true;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-'));
  let port = await freePort();
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', durable ? 'yes' : 'no',
      '--appendfsync', 'always',
      '--enable-debug-command', 'local',
      '--loglevel', 'warning',
    ];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    await waitUntil(async () => {
      if (exited) throw new Error(`redis-server exited while starting on port ${port}`);
      return pingOnce(port);
    }, `redis-server on 127.0.0.1:${port}`);
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };

  try {
    await launch();
  } catch {
    // Another process may have taken the port between probing and binding: try once more.
    await halt('SIGKILL');
    port = await freePort();
    await launch();
  }

  return {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGKILL');
      await launch();
    },
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
