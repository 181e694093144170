/**
 * Revocation from the control plane: the authority writes to the store the guards share, and
 * the next call in any guard is refused. Run on the memory store (clock controlled) and on a
 * real Redis.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAuthority, createGuard, createMemoryStore, type TesseraStore, guardTool } from '../../src/index.js';
import { createRedisStore } from '../../src/store/redis.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { connectClient, type TestClient } from './redis-clients.js';

async function world(store: TesseraStore) {
  const clock = manualClock();
  const authority = await createAuthority({ issuer: ISSUER, clock, store });
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => authority.jwks() }, clock, store });
  const ran: string[] = [];
  const read = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' }, async (args) => {
    ran.push(args.ticketId);
  });
  const grant = (agent = AGENT, intent = 'ticket-4711') =>
    authority.grant({ agent, audience: AUDIENCE, intent: { id: intent, purpose: 'Answer a ticket' }, tools: { 'tickets.read': {} }, ttl: '5m' });
  const call = (capability: string) => read({ ticketId: '4711' }, { capability });
  return { clock, authority, guard, grant, call, ran };
}

function revocationSuite(makeStore: () => TesseraStore): void {
  test('authority.revokeCapability refuses that capability from the next call, and only it', async () => {
    const w = await world(makeStore());
    const cap = await w.grant();
    const sibling = await w.grant();
    await w.call(cap);
    await w.authority.revokeCapability((await w.guard.inspect(cap)).id);
    await expect(w.call(cap)).rejects.toMatchObject({ code: 'capability_revoked' });
    await w.call(sibling);
    expect(w.ran).toEqual(['4711', '4711']);
  });

  test('authority.revokeAgent stops every capability the agent holds; a grant made later works', async () => {
    const w = await world(makeStore());
    const a = await w.grant(AGENT, 'one');
    const b = await w.grant(AGENT, 'two');
    const bystander = await w.grant('spiffe://example.org/agents/billing');
    await w.authority.revokeAgent(AGENT);
    await expect(w.call(a)).rejects.toMatchObject({ code: 'capability_revoked' });
    await expect(w.call(b)).rejects.toMatchObject({ code: 'capability_revoked' });
    await w.call(bystander);
    w.clock.advance(1000);
    await w.call(await w.grant(AGENT, 'three'));
    expect(w.ran).toEqual(['4711', '4711']);
  });

  test('authority.revokeIntent stops every capability for that intent, whoever holds it', async () => {
    const w = await world(makeStore());
    const a = await w.grant(AGENT, 'incident-9');
    const b = await w.grant('spiffe://example.org/agents/billing', 'incident-9');
    const other = await w.grant(AGENT, 'ticket-1');
    await w.authority.revokeIntent('incident-9');
    await expect(w.call(a)).rejects.toMatchObject({ code: 'capability_revoked' });
    await expect(w.call(b)).rejects.toMatchObject({ code: 'capability_revoked' });
    await w.call(other);
    expect(w.ran).toEqual(['4711']);
  });

  test('a revocation with an empty id is refused as misuse', async () => {
    const w = await world(makeStore());
    await expect(w.authority.revokeAgent('')).rejects.toThrow(TypeError);
  });
}

describe('authority revocation on the memory store', () => {
  revocationSuite(() => createMemoryStore());

  test('without a store, the revocation methods reject, naming the option', async () => {
    const authority = await createAuthority({ issuer: ISSUER });
    await expect(authority.revokeCapability('x')).rejects.toThrow(/createAuthority\(\{ store \}\)/);
    await expect(authority.revokeAgent(AGENT)).rejects.toThrow(TypeError);
    await expect(authority.revokeIntent('i')).rejects.toThrow(TypeError);
  });

  test('a store that is not a store is refused at construction', async () => {
    await expect(createAuthority({ issuer: ISSUER, store: {} as TesseraStore })).rejects.toThrow(/createAuthority options\.store: must be a TesseraStore/);
  });

  test('a store failure during revocation rejects the revocation, it is never reported as done', async () => {
    const store = createMemoryStore();
    const failing: TesseraStore = { ...store, revoke: () => Promise.reject(new Error('down')) };
    const authority = await createAuthority({ issuer: ISSUER, store: failing });
    await expect(authority.revokeAgent(AGENT)).rejects.toThrow('down');
  });
});

describe.skipIf(!redisTestsEnabled())('authority revocation on Redis', () => {
  let server: RedisServer;
  let c: TestClient;
  let n = 0;
  beforeAll(async () => {
    server = await startRedisServer();
    c = await connectClient('node-redis', server.port);
  });
  afterAll(async () => {
    await c?.close();
    await server?.stop();
  });
  revocationSuite(() => createRedisStore({ client: c.client, prefix: `authority:${++n}:` }));
});
