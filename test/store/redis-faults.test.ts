/**
 * Redis dies mid-run and comes back. While it is gone every call is denied with
 * `store_unavailable` and no tool body runs; the process does not crash (the clients here have
 * no `error` listener of their own); when it returns on the same port, calls succeed again
 * without a restart, and everything recorded before the crash still holds: a spent call budget,
 * a revoked credential, a revoked agent.
 */
import type { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyCallCredential } from '../../src/index.js';
import { createRedisStore } from '../../src/store/redis.js';
import { setup } from '../support/fixtures.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { CLIENT_KINDS, connectClient, type TestClient } from './redis-clients.js';

const enabled = redisTestsEnabled();

async function eventually<T>(attempt: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe.skipIf(!enabled).each(CLIENT_KINDS)('Redis killed and restarted, through %s', (kind) => {
  let server: RedisServer;
  let c: TestClient;
  beforeAll(async () => {
    server = await startRedisServer();
    c = await connectClient(kind, server.port, { listenErrors: false });
  });
  afterAll(async () => {
    await c?.close();
    await server?.stop();
  });

  test('denies while Redis is down, recovers when it returns, and loses nothing it recorded', async () => {
    const store = createRedisStore({ client: c.client, prefix: `faults:${kind}:` });
    const { guard, readTicket, sendEmail, grant, ran, clock, authority } = await setup({ store });
    const cap = await grant();
    const other = await authority.grant({
      agent: 'spiffe://example.org/agents/rogue',
      audience: 'support-app',
      intent: { id: 'other', purpose: 'Another task' },
      tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } } },
      ttl: '5m',
    });

    // Recorded before the crash: email.send's only call, its credential revoked at the end of
    // the call, and an emergency stop for the rogue agent.
    const sent = await sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }, { capability: cap });
    await readTicket({ ticketId: '4711' }, { capability: cap });
    await guard.revokeAgent('spiffe://example.org/agents/rogue');
    clock.advance(1000);
    expect(ran).toEqual(['email.send:a@example.com', 'tickets.read:4711']);

    await server.kill();
    for (let i = 0; i < 5; i++) {
      await expect(readTicket({ ticketId: '4711' }, { capability: cap })).rejects.toMatchObject({ code: 'store_unavailable' });
    }
    await expect(sendEmail({ to: 'b@example.com', subject: 's', body: 'b' }, { capability: cap })).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(
      verifyCallCredential(sent.token, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'email.send', store, clock }),
    ).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(guard.revokeIntent('ticket-4711')).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(ran).toEqual(['email.send:a@example.com', 'tickets.read:4711']);

    await server.restart();
    await eventually(() => readTicket({ ticketId: '4711' }, { capability: cap }));
    expect(ran).toEqual(['email.send:a@example.com', 'tickets.read:4711', 'tickets.read:4711']);

    await expect(sendEmail({ to: 'c@example.com', subject: 's', body: 'b' }, { capability: cap })).rejects.toMatchObject({ code: 'call_limit_exceeded' });
    await expect(
      verifyCallCredential(sent.token, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'email.send', store, clock }),
    ).rejects.toMatchObject({ code: 'replay_detected' });
    await expect(readTicket({ ticketId: '4711' }, { capability: other })).rejects.toMatchObject({ code: 'capability_revoked' });
    expect(ran).toEqual(['email.send:a@example.com', 'tickets.read:4711', 'tickets.read:4711']);
    store.close();
  });

  test("a client's error events go to onError and never throw, even when onError itself throws", () => {
    const seen: unknown[] = [];
    const store = createRedisStore({
      client: c.client,
      prefix: `faults:${kind}:events:`,
      onError: (e) => {
        seen.push(e);
        throw new Error('hook failed');
      },
    });
    const lost = new Error('connection lost');
    (c.client as unknown as EventEmitter).emit('error', lost);
    expect(seen).toEqual([lost]);
    store.close();
  });
});
