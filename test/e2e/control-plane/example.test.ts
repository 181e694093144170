/** `npx tsx examples/control-plane/run.ts` runs the three processes and prints what happened. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { redisTestsEnabled } from '../../support/redis-server.js';

test.runIf(redisTestsEnabled())('the control-plane example prints each step and its outcome', { timeout: 120_000 }, async () => {
  const { stdout, stderr } = await promisify(execFile)('node_modules/.bin/tsx', ['examples/control-plane/run.ts'], { timeout: 120_000 });
  expect(stderr).toBe('');
  const lines = stdout
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, 'http://127.0.0.1:PORT')
    .replace(/\(signing key from [^)]+\)/, '(signing key from FILE)')
    .trimEnd()
    .split('\n');
  expect(lines).toEqual([
    'authority  listening at http://127.0.0.1:PORT (signing key from FILE)',
    'tools      listening at http://127.0.0.1:PORT, trusting http://127.0.0.1:PORT by its metadata',
    'agent      request tickets.read and email.send: granted (DPoP)',
    'agent      read ticket T-4711: allowed',
    'agent      email customer@example.com: allowed',
    'agent      email eve@evil.example: denied (arguments_out_of_scope)',
    'agent      request payments.refund (outside the ceiling): refused (invalid_authorization_details)',
    'agent      waiting for the emergency stop: waiting',
    'admin      emergency stop of agent support-agent: written to the shared store',
    'agent      read ticket T-4711 after the stop: denied (capability_revoked)',
    'agent      request a fresh capability after the stop: refused (access_denied)',
  ]);
});
