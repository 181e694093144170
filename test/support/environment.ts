/**
 * What the tests need from the machine: a free loopback port, and a rule for a missing program
 * (a server, a browser). A missing one is a loud skip on a developer's machine and a failure in
 * CI (`CI=true`), so tests that need it are never silently skipped there.
 */
import { createServer } from 'node:net';

/** `available`, or: in CI throws, elsewhere warns loudly with `message` and returns false. */
export function enabledOrSkipped(available: boolean, message: string): boolean {
  if (available) return true;
  if (process.env.CI === 'true') throw new Error(`${message} In CI this is a failure.`);
  console.warn(`\n${'!'.repeat(100)}\n${message}\n${'!'.repeat(100)}\n`);
  return false;
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
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
