/**
 * `trust: { issuer }` with no jwks: the guard reads the issuer's RFC 8414 metadata and takes its
 * keys from `jwks_uri`. Served by a real HTTP server on loopback; the clock is the test's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, ToolDeniedError, type Authority, guardTool } from '../../src/index.js';
import { createManualClock } from '../../src/testing/index.js';

const AUDIENCE = 'support-app';
const AGENT = 'spiffe://example.org/agents/support';

interface Site {
  readonly origin: string;
  readonly hits: string[];
  /** What the metadata endpoint answers; set per test. */
  metadata: (issuer: string) => { status: number; body: unknown };
  authority: Authority;
  close(): Promise<void>;
}

const open: Site[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function startSite(issuerPath = ''): Promise<Site & { issuer: string; clock: ReturnType<typeof createManualClock> }> {
  const hits: string[] = [];
  let site: Site & { issuer: string; clock: ReturnType<typeof createManualClock> };
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url?.startsWith('/.well-known/oauth-authorization-server')) {
      const { status, body } = site.metadata(site.issuer);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    if (req.url?.startsWith('/jwks.json')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(site.authority.jwks()));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${origin}${issuerPath}`;
  const clock = createManualClock();
  const authority = await createAuthority({ issuer, clock });
  site = {
    origin,
    issuer,
    clock,
    hits,
    authority,
    metadata: (iss) => ({ status: 200, body: { issuer: iss, jwks_uri: `${origin}/jwks.json`, token_endpoint: `${iss}/token` } }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  open.push(site);
  return site;
}

function setup(site: Awaited<ReturnType<typeof startSite>>) {
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: site.issuer }, clock: site.clock });
  const ran: string[] = [];
  const read = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({ id: z.string() }), risk: 'read' }, async ({ id }) => {
    ran.push(id);
    return id;
  });
  const grant = () =>
    site.authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { 'tickets.read': {} }, ttl: '1h' });
  const call = async (id: string) => guard.withCapability(await grant(), () => read({ id }));
  return { guard, ran, call };
}

const denial = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as ToolDeniedError);

describe('trust by issuer URL (RFC 8414 discovery)', () => {
  test('keys come from the discovered jwks_uri; the metadata is fetched once for many calls', async () => {
    const site = await startSite();
    const { call, ran } = setup(site);
    await expect(call('1')).resolves.toBe('1');
    await expect(call('2')).resolves.toBe('2');
    expect(ran).toEqual(['1', '2']);
    expect(site.hits.filter((h) => h.startsWith('/.well-known/'))).toEqual(['/.well-known/oauth-authorization-server']);
  });

  test('an issuer with a path is looked up with the well-known segment before the path (RFC 8414 §3.1)', async () => {
    const site = await startSite('/tenant-a');
    const { call } = setup(site);
    await expect(call('1')).resolves.toBe('1');
    expect(site.hits).toContain('/.well-known/oauth-authorization-server/tenant-a');
  });

  test('metadata naming another issuer is refused: capability_invalid, nothing runs', async () => {
    const site = await startSite();
    site.metadata = () => ({ status: 200, body: { issuer: 'https://evil.example', jwks_uri: `${site.origin}/jwks.json` } });
    const { call, ran } = setup(site);
    const err = await denial(call('1'));
    expect(err).toBeInstanceOf(ToolDeniedError);
    expect(err).toMatchObject({ code: 'capability_invalid' });
    expect(err!.reason).toContain('metadata');
    expect(ran).toEqual([]);
  });

  test('a discovered jwks_uri over plain http on a non-loopback host is refused: capability_invalid', async () => {
    const site = await startSite();
    site.metadata = (iss) => ({ status: 200, body: { issuer: iss, jwks_uri: 'http://keys.example.com/jwks.json' } });
    const { call, ran } = setup(site);
    expect(await denial(call('1'))).toMatchObject({ code: 'capability_invalid' });
    expect(ran).toEqual([]);
  });

  test('an unreachable metadata endpoint denies; once it answers, the next call goes through', async () => {
    const site = await startSite();
    const good = site.metadata;
    site.metadata = () => ({ status: 503, body: { error: 'temporarily_unavailable' } });
    const { call, ran } = setup(site);
    expect(await denial(call('1'))).toMatchObject({ code: 'capability_invalid' });
    site.metadata = good;
    await expect(call('2')).resolves.toBe('2');
    expect(ran).toEqual(['2']);
  });

  test('metadata older than 10 minutes is read again at the next key refresh, and a new jwks_uri is followed', async () => {
    const site = await startSite();
    const { call } = setup(site);
    await expect(call('1')).resolves.toBe('1');
    site.metadata = (iss) => ({ status: 200, body: { issuer: iss, jwks_uri: `${site.origin}/jwks.json?v=2` } });
    site.clock.advance(9 * 60_000);
    await call('2');
    expect(site.hits.filter((h) => h.startsWith('/.well-known/'))).toHaveLength(1);
    // The key set was refreshed at 9 minutes (it is due every 5); the next refresh, at 15, finds
    // the metadata older than 10 minutes and reads it again.
    site.clock.advance(6 * 60_000);
    await expect(call('3')).resolves.toBe('3');
    expect(site.hits.filter((h) => h.startsWith('/.well-known/'))).toHaveLength(2);
    expect(site.hits).toContain('/jwks.json?v=2');
  });

  test('a failed re-read of the metadata keeps the last good jwks_uri: calls go on', async () => {
    const site = await startSite();
    const { call } = setup(site);
    await expect(call('1')).resolves.toBe('1');
    site.metadata = () => ({ status: 503, body: {} });
    site.clock.advance(11 * 60_000);
    await expect(call('2')).resolves.toBe('2');
    expect(site.hits.filter((h) => h.startsWith('/.well-known/'))).toHaveLength(2);
  });

  test('an http issuer on a non-loopback host with no jwks is refused at construction, naming trust.issuer', () => {
    expect(() => createGuard({ audience: AUDIENCE, trust: { issuer: 'http://authz.example.com' } })).toThrow(
      new TypeError('trust.issuer http://authz.example.com (with no jwks) must use https (http only on 127.0.0.1 or localhost)'),
    );
    expect(() => createGuard({ audience: AUDIENCE, trust: { issuer: 'authority-one' } })).toThrow(TypeError);
  });
});
