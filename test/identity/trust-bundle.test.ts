import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { IdentityError } from '../../src/identity/errors.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import type { TrustBundleDocument } from '../../src/identity/trust-bundle.js';
import { manualClock } from '../support/fixtures.js';
import { createTestTrustDomain, type TestTrustDomain } from './trust-domain.js';

const AUDIENCE = 'support-app';
const AGENT = 'spiffe://example.org/agents/support';

/** A real bundle endpoint on loopback that counts its requests and can be told to fail. */
async function bundleServer(doc: () => TrustBundleDocument) {
  let requests = 0;
  let status = 200;
  const server: Server = createServer((_req, res) => {
    requests++;
    if (status !== 200) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/bundle`),
    get requests() {
      return requests;
    },
    fail(code: number) {
      status = code;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (e: unknown) => (e instanceof IdentityError ? e.code : `unexpected ${String(e)}`),
  );
}

let clock: ReturnType<typeof manualClock>;
let td: TestTrustDomain;
let srv: Awaited<ReturnType<typeof bundleServer>>;
let hint: number | undefined;

beforeEach(async () => {
  clock = manualClock();
  hint = undefined;
  td = await createTestTrustDomain('example.org', { clock, audience: AUDIENCE });
  srv = await bundleServer(() => td.bundle(hint === undefined ? {} : { refreshHint: hint }));
});
afterEach(async () => {
  await srv.close();
});

describe('trust bundle from a URL', () => {
  test('loads once, then verifies from memory', async () => {
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': srv.url }, clock });
    await expect(v.verify(await td.svid(AGENT))).resolves.toMatchObject({ id: AGENT, trustDomain: 'example.org', source: 'jwt-svid' });
    await v.verify(await td.svid(AGENT));
    expect(srv.requests).toBe(1);
  });

  test('an unknown kid triggers one refresh, then waits for the cooldown', async () => {
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': srv.url }, clock, cooldownSec: 30 });
    await v.verify(await td.svid(AGENT));
    clock.advance(31_000);
    await td.rotate();
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('ok');
    expect(srv.requests).toBe(2);
    await td.rotate();
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('identity_invalid');
    expect(srv.requests).toBe(2);
    clock.advance(30_000);
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('ok');
    expect(srv.requests).toBe(3);
  });

  test('a token with a kid that is never published cannot make the verifier fetch in a loop', async () => {
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': srv.url }, clock, cooldownSec: 30 });
    for (let i = 0; i < 5; i++) expect(await outcome(v.verify(await td.svid(AGENT, { kid: 'nope' })))).toBe('identity_invalid');
    expect(srv.requests).toBe(1);
  });

  test('spiffe_refresh_hint schedules the next refresh; a dropped key stops verifying', async () => {
    hint = 60;
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': srv.url }, clock });
    const old = await td.svid(AGENT, { ttl: 3600 });
    await v.verify(old);
    await td.rotate(true);
    clock.advance(59_000);
    expect(await outcome(v.verify(old))).toBe('ok');
    expect(srv.requests).toBe(1);
    clock.advance(1_000);
    expect(await outcome(v.verify(old))).toBe('identity_invalid');
    expect(srv.requests).toBe(2);
  });

  test('an unreachable bundle endpoint: identity_unavailable (fail closed)', async () => {
    await srv.close();
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': srv.url }, clock, timeoutMs: 2000 });
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('identity_unavailable');
  });

  test('an endpoint answering 500: identity_unavailable', async () => {
    srv.fail(500);
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': srv.url }, clock });
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('identity_unavailable');
  });

  test('a refresh that fails when due makes the bundle unavailable until it succeeds again', async () => {
    hint = 60;
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': srv.url }, clock, cooldownSec: 30 });
    await v.verify(await td.svid(AGENT));
    srv.fail(503);
    clock.advance(60_000);
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('identity_unavailable');
    expect(srv.requests).toBe(2);
    srv.fail(200);
    clock.advance(10_000);
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('identity_unavailable');
    expect(srv.requests).toBe(2);
    clock.advance(20_000);
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('ok');
    expect(srv.requests).toBe(3);
  });
});

describe('trust bundle contents', () => {
  test('from a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bundle-'));
    try {
      const file = join(dir, 'bundle.json');
      await writeFile(file, JSON.stringify(td.bundle()));
      const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': { file } }, clock });
      expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('ok');
      const missing = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': { file: join(dir, 'none.json') } }, clock });
      expect(await outcome(missing.verify(await td.svid(AGENT)))).toBe('identity_unavailable');
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  test('keys without use "jwt-svid" are ignored', async () => {
    const doc = td.bundle();
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': { keys: doc.keys.map((k) => ({ ...k, use: 'sig' })) } }, clock });
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('identity_invalid');
  });

  test('keys without a kid are ignored', async () => {
    const doc = td.bundle();
    const v = createJwtSvidVerifier({
      audience: AUDIENCE,
      trustDomains: { 'example.org': { keys: doc.keys.map(({ kid: _kid, ...k }) => k) } },
      clock,
    });
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('identity_invalid');
  });

  test('an empty bundle trusts nothing', async () => {
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': { keys: [] } }, clock });
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('identity_invalid');
  });

  test('two keys under one kid: neither is trusted', async () => {
    const doc = td.bundle();
    const other = await createTestTrustDomain('example.org', { clock, audience: AUDIENCE });
    const twin = { ...other.bundle().keys[0]!, kid: td.kid };
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': { keys: [...doc.keys, twin] } }, clock });
    expect(await outcome(v.verify(await td.svid(AGENT)))).toBe('identity_invalid');
  });

  test('a key pinned to RS256 refuses a PS256 signature by the same key', async () => {
    const rsa = await createTestTrustDomain('example.org', { clock, audience: AUDIENCE, alg: 'RS256' });
    const doc = rsa.bundle();
    const v = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': { keys: doc.keys.map((k) => ({ ...k, alg: 'RS256' })) } }, clock });
    expect(await outcome(v.verify(await rsa.svid(AGENT)))).toBe('ok');
    expect(await outcome(v.verify(await rsa.svid(AGENT, { alg: 'PS256' })))).toBe('identity_invalid');
  });
});
