/**
 * Revocation to the millisecond, with the clock controlled. "Until now" means until this
 * millisecond: a grant made 1 ms after an emergency stop works, one made 1 ms before is
 * refused, across the authority and the guard. A guard's stop also reaches its clock skew
 * ahead (for issuers whose clock runs ahead); an authority sharing the store stamps grants made
 * after such a stop after it, so they still work at once.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, createMemoryStore, delegate, generateSigningKey, ToolDeniedError, type TesseraStore, guardTool } from '../../src/index.js';
import { createAgentKey } from '../../src/identity/agent-key.js';
import { createRedisStore } from '../../src/store/redis.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { connectClient, type TestClient } from '../store/redis-clients.js';

// 400 ms into a second, so that "the same second" and "the next millisecond" differ.
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0) + 400;

async function world(store: TesseraStore, authorityHasStore = true) {
  const clock = manualClock(T0);
  const signingKey = await generateSigningKey('EdDSA');
  const authority = await createAuthority({ issuer: ISSUER, clock, signingKey, ...(authorityHasStore ? { store } : {}) });
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => authority.jwks() }, clock, store, clockSkewSec: 30 });
  const read = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' }, () => 'read');
  const grant = (intent = 'ticket-4711', agent = AGENT) =>
    authority.grant({ agent, audience: AUDIENCE, intent: { id: intent, purpose: 'Answer a ticket' }, tools: { 'tickets.read': {} }, ttl: '5m' });
  const call = (capability: string) =>
    read({ ticketId: '4711' }, { capability }).then(
      () => 'allowed',
      (e: unknown) => (e instanceof ToolDeniedError ? e.code : e),
    );
  return { clock, authority, guard, grant, call, signingKey };
}

function timingSuite(makeStore: () => TesseraStore): void {
  test('authority.revokeAgent: a grant 1 ms before is refused, a grant 1 ms after (same second) works', async () => {
    const w = await world(makeStore());
    const before = await w.grant();
    w.clock.advance(1);
    await w.authority.revokeAgent(AGENT);
    w.clock.advance(1);
    const after = await w.grant();
    expect(await w.call(before)).toBe('capability_revoked');
    expect(await w.call(after)).toBe('allowed');
  });

  test('authority.revokeIntent: the same, to the millisecond', async () => {
    const w = await world(makeStore());
    const before = await w.grant('incident-9');
    w.clock.advance(1);
    await w.authority.revokeIntent('incident-9');
    w.clock.advance(1);
    expect(await w.call(before)).toBe('capability_revoked');
    expect(await w.call(await w.grant('incident-9'))).toBe('allowed');
  });

  test('a grant in the very millisecond of the revocation is refused', async () => {
    const w = await world(makeStore());
    const same = await w.grant();
    await w.authority.revokeAgent(AGENT);
    expect(await w.call(same)).toBe('capability_revoked');
  });

  test('a token without iat_ms counts as issued at the end of its second: a revocation later in that second refuses it', async () => {
    const w = await world(makeStore());
    const iat = Math.floor(T0 / 1000);
    const legacy = await new SignJWT({ intent: { id: 'ticket-4711', purpose: 'p' }, tools: { 'tickets.read': {} } })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'tessera-cap+jwt', kid: w.signingKey.kid })
      .setIssuer(ISSUER)
      .setSubject(AGENT)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + 300)
      .setJti('legacy-token-0000000001')
      .sign(w.signingKey.privateKey);
    expect(await w.call(legacy)).toBe('allowed');
    // Revoked at .400 of the same second: the token's issue time is unknown within it.
    await w.authority.revokeAgent(AGENT);
    expect(await w.call(legacy)).toBe('capability_revoked');
  });

  test('a child derived after the stop from a grant made before it is refused, whatever issue time the child claims', async () => {
    const w = await world(makeStore());
    const key = await createAgentKey('EdDSA', { clock: w.clock });
    const root = await w.authority.grant({
      agent: AGENT,
      audience: AUDIENCE,
      intent: { id: 'ticket-4711', purpose: 'p' },
      tools: { 'tickets.read': {} },
      ttl: '5m',
      confirmation: { jkt: key.jkt },
    });
    w.clock.advance(1);
    await w.authority.revokeAgent(AGENT);
    w.clock.advance(10_000);
    const child = await delegate(root, { to: 'spiffe://example.org/agents/helper', tools: { 'tickets.read': {} } }, { key, clock: w.clock });
    expect(await w.call(child)).toBe('capability_revoked');
  });

  test("guard.revokeAgent reaches its skew ahead; a grant from an authority sharing the store 1 ms later still works", async () => {
    const store = makeStore();
    expect(store.peek).toBeTypeOf('function');
    const w = await world(store);
    const before = await w.grant();
    w.clock.advance(1);
    await w.guard.revokeAgent(AGENT);
    w.clock.advance(1);
    const after = await w.grant();
    expect(await w.call(before)).toBe('capability_revoked');
    expect(await w.call(after)).toBe('allowed');
  });

  test("guard.revokeIntent: a token from an issuer whose clock runs 29 s ahead, issued before the stop, is refused", async () => {
    const w = await world(makeStore());
    w.clock.advance(29_000);
    const ahead = await w.grant('incident-7');
    w.clock.advance(-29_000);
    w.clock.advance(1);
    await w.guard.revokeIntent('incident-7');
    expect(await w.call(ahead)).toBe('capability_revoked');
  });
}

describe('revocation timing on the memory store', () => {
  timingSuite(() => createMemoryStore());

  test('without the store, the authority cannot see a guard stop: its grants are refused until the skew has passed (fail closed)', async () => {
    const store = createMemoryStore();
    const w = await world(store, false);
    await w.guard.revokeAgent(AGENT);
    w.clock.advance(1);
    const soon = await w.grant();
    w.clock.advance(30_000);
    const later = await w.grant();
    expect(await w.call(soon)).toBe('capability_revoked');
    expect(await w.call(later)).toBe('allowed');
  });
});

describe.skipIf(!redisTestsEnabled())('revocation timing on Redis', () => {
  let server: RedisServer;
  let c: TestClient;
  let n = 0;
  beforeAll(async () => {
    server = await startRedisServer({ durable: false });
    c = await connectClient('ioredis', server.port);
  });
  afterAll(async () => {
    await c?.close();
    await server?.stop();
  });
  timingSuite(() => createRedisStore({ client: c.client, prefix: `timing:${++n}:` }));
});
