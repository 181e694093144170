/**
 * A key withdrawn from an issuer's key set stops being trusted within the refresh interval, for
 * cached capabilities as well as new ones; a failing key source keeps the last good set only
 * for a bounded time and never wedges later refreshes. Time is the test's manual clock.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, generateSigningKey, type JWKS, type SigningKey, guardTool } from '../../src/index.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';

const MIN = 60_000;

async function world(jwksOption?: (source: () => JWKS | Promise<JWKS>) => unknown, trustExtra: Record<string, unknown> = {}) {
  const clock = manualClock();
  const k1: SigningKey = await generateSigningKey();
  const k2: SigningKey = await generateSigningKey();
  const authority = await createAuthority({ issuer: ISSUER, signingKey: k1, clock });
  let published: JWKS | (() => Promise<JWKS>) = { keys: [k1.publicJwk, k2.publicJwk] };
  const source = (): JWKS | Promise<JWKS> => (typeof published === 'function' ? published() : published);
  const guard = createGuard({
    audience: AUDIENCE,
    trust: { issuer: ISSUER, jwks: (jwksOption?.(source) ?? source) as JWKS, ...trustExtra },
    clock,
  });
  const ran: string[] = [];
  const read = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }), risk: 'read' }, (a) => {
    ran.push(a.ticketId);
    return 'ok';
  });
  const grant = () => authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i-1', purpose: 'p' }, tools: { 'tickets.read': {} }, ttl: '1h' });
  const call = (capability: string, ticketId = '1') =>
    read({ ticketId }, { capability }).then(
      () => 'allowed',
      (e: { code: string; reason: string }) => `${e.code}: ${e.reason}`,
    );
  const publish = (p: typeof published) => {
    published = p;
  };
  return { clock, k1, k2, authority, guard, call, grant, publish, ran };
}

const WITHDRAWN = /^capability_invalid: the capability's signing key \(kid\) is not trusted by this guard: .*withdrawn/;

describe('a withdrawn key (key set given as a function)', () => {
  test('a cached capability signed with it is refused after the next refresh (5 minutes by default)', async () => {
    const w = await world();
    const cap = await w.grant();
    expect(await w.call(cap)).toBe('allowed');
    w.publish({ keys: [w.k2.publicJwk] });
    w.clock.advance(5 * MIN);
    expect(await w.call(cap)).toMatch(WITHDRAWN);
    expect(w.ran).toEqual(['1']);
  });

  test('a new capability signed with it is refused after the next refresh', async () => {
    const w = await world();
    expect(await w.call(await w.grant())).toBe('allowed');
    w.publish({ keys: [w.k2.publicJwk] });
    w.clock.advance(5 * MIN);
    expect(await w.call(await w.grant(), '2')).toMatch(WITHDRAWN);
    expect(w.ran).toEqual(['1']);
  });

  test('the window: until the refresh is due, the last fetched set still applies', async () => {
    const w = await world();
    const cap = await w.grant();
    expect(await w.call(cap)).toBe('allowed');
    w.publish({ keys: [w.k2.publicJwk] });
    w.clock.advance(5 * MIN - 1000);
    expect(await w.call(cap, '2')).toBe('allowed');
    expect(w.ran).toEqual(['1', '2']);
  });

  test('refreshIntervalMs shortens the window', async () => {
    const w = await world(undefined, { refreshIntervalMs: 10_000 });
    const cap = await w.grant();
    expect(await w.call(cap)).toBe('allowed');
    w.publish({ keys: [w.k2.publicJwk] });
    w.clock.advance(10_000);
    expect(await w.call(cap, '2')).toMatch(WITHDRAWN);
    expect(w.ran).toEqual(['1']);
  });

  test('guard.inspect refuses the cached capability too', async () => {
    const w = await world();
    const cap = await w.grant();
    await w.guard.inspect(cap);
    w.publish({ keys: [w.k2.publicJwk] });
    w.clock.advance(5 * MIN);
    await expect(w.guard.inspect(cap)).rejects.toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/withdrawn/) });
  });

  test('a key kept in the set keeps its cached capabilities', async () => {
    const w = await world();
    const cap = await w.grant();
    expect(await w.call(cap)).toBe('allowed');
    w.publish({ keys: [w.k1.publicJwk] });
    w.clock.advance(5 * MIN);
    expect(await w.call(cap, '2')).toBe('allowed');
    expect(w.ran).toEqual(['1', '2']);
  });

  test('the same kid with other key material is a withdrawn key', async () => {
    const w = await world();
    const cap = await w.grant();
    expect(await w.call(cap)).toBe('allowed');
    w.publish({ keys: [{ ...w.k2.publicJwk, kid: w.k1.kid }] });
    w.clock.advance(5 * MIN);
    expect(await w.call(cap, '2')).toMatch(/^capability_invalid: /);
    expect(w.ran).toEqual(['1']);
  });
});

describe('a failing key source', () => {
  test('keeps the last good set until it is 15 minutes old, then refuses (fail closed)', async () => {
    const w = await world();
    const cap = await w.grant();
    expect(await w.call(cap)).toBe('allowed');
    w.publish(() => Promise.reject(new Error('jwks endpoint down')));
    w.clock.advance(14 * MIN);
    expect(await w.call(cap, '2')).toBe('allowed');
    w.clock.advance(1 * MIN);
    expect(await w.call(cap, '3')).toMatch(/^capability_invalid: the key source of issuer "https:\/\/authz.example.com" failed, and its keys could not be refreshed/);
    expect(w.ran).toEqual(['1', '2']);
  });

  test('a failure does not wedge later refreshes: once the source answers, calls are allowed again', async () => {
    const w = await world();
    const cap = await w.grant();
    expect(await w.call(cap)).toBe('allowed');
    w.publish(() => Promise.reject(new Error('down')));
    w.clock.advance(16 * MIN);
    expect(await w.call(cap, '2')).toMatch(/could not be refreshed/);
    w.publish({ keys: [w.k1.publicJwk] });
    w.clock.advance(30_000);
    expect(await w.call(cap, '3')).toBe('allowed');
    expect(w.ran).toEqual(['1', '3']);
  });

  test('a source that never answers is cut off by its deadline and does not wedge the next refresh', async () => {
    const w = await world(undefined, { fetchTimeoutMs: 50 });
    const cap = await w.grant();
    expect(await w.call(cap)).toBe('allowed');
    w.publish(() => new Promise<JWKS>(() => undefined));
    w.clock.advance(16 * MIN);
    expect(await w.call(cap, '2')).toMatch(/could not be refreshed/);
    w.publish({ keys: [w.k1.publicJwk] });
    w.clock.advance(30_000);
    expect(await w.call(cap, '3')).toBe('allowed');
    expect(w.ran).toEqual(['1', '3']);
  });
});

describe('a key set given as a URL', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  test('a key withdrawn from the served set is refused after the refresh', async () => {
    let served: JWKS = { keys: [] };
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(served));
    });
    const port = await new Promise<number>((resolve) => server!.listen(0, '127.0.0.1', () => resolve((server!.address() as { port: number }).port)));
    const w = await world(() => new URL(`http://127.0.0.1:${port}/jwks.json`));
    served = { keys: [w.k1.publicJwk, w.k2.publicJwk] };
    const cap = await w.grant();
    expect(await w.call(cap)).toBe('allowed');
    served = { keys: [w.k2.publicJwk] };
    w.clock.advance(5 * MIN);
    expect(await w.call(cap, '2')).toMatch(WITHDRAWN);
    expect(w.ran).toEqual(['1']);
  });
});

describe('trust configuration', () => {
  test('a string URL is refused at createGuard with how to fix it', () => {
    expect(() => createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: 'https://authz.example.com/jwks.json' as unknown as JWKS } })).toThrow(
      new TypeError('trust.jwks for https://authz.example.com is a string; pass new URL("https://authz.example.com/jwks.json") to fetch the key set from that URL'),
    );
  });

  test('a refresh interval longer than the stale limit is refused at createGuard', () => {
    expect(() => createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => ({ keys: [] }), refreshIntervalMs: 60_000, maxStaleMs: 1000 } })).toThrow(RangeError);
  });
});

describe('reasons name what to fix', () => {
  test('an untrusted issuer names the token issuer and the trusted ones', async () => {
    const w = await world();
    const other = await createAuthority({ issuer: 'https://evil.example', clock: w.clock });
    const cap = await other.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { 'tickets.read': {} } });
    expect(await w.call(cap)).toBe('capability_invalid: the capability was issued by an untrusted issuer "https://evil.example"; this guard trusts "https://authz.example.com"');
  });

  test('another audience names both audiences', async () => {
    const w = await world();
    const cap = await w.authority.grant({ agent: AGENT, audience: 'billing-app', intent: { id: 'i', purpose: 'p' }, tools: { 'tickets.read': {} } });
    expect(await w.call(cap)).toBe(
      'capability_invalid: the capability was granted for another audience ("billing-app") than this guard\'s ("support-app"); ask the authority for a grant with audience "support-app"',
    );
  });
});
