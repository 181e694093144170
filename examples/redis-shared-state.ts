/**
 * Shared state on Redis: two agent workers (two guards, two connections, one of each client
 * library) share one call budget, and an emergency stop issued by the control plane stops both
 * on their next call.
 *
 * Needs a Redis server: `REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/redis-shared-state.ts`
 * (with no REDIS_URL it starts a throwaway `redis-server` on a free loopback port).
 */
import { Redis as IORedis } from 'ioredis';
import { createClient } from 'redis';
import { z } from 'zod';
import { createAuthority, createGuard, ToolDeniedError, guardTool } from '../src/index.js';
import { createRedisStore, type RedisClientLike } from '../src/store/redis.js';
import { startRedisServer } from '../test/support/redis-server.js';

const ISSUER = 'https://authz.example.com';
const AGENT = 'spiffe://example.org/agents/support';

export async function redisSharedStateExample(url?: string): Promise<string[]> {
  const server = url === undefined ? await startRedisServer({ durable: false }) : undefined;
  const target = new URL(url ?? server!.url);
  const log: string[] = [];

  // The offline queue is off in both clients: a command refused during an outage is never
  // replayed later, so a denied call never counts against a budget after the fact.
  const io = new IORedis({ host: target.hostname, port: Number(target.port), enableOfflineQueue: false, lazyConnect: true });
  await io.connect();
  const nodeRedis = createClient({ url: target.href, disableOfflineQueue: true });
  await nodeRedis.connect();

  try {
    const controlStore = createRedisStore({ client: io, timeoutMs: 250 });
    const authority = await createAuthority({ issuer: ISSUER, store: controlStore });
    const worker = (name: string, client: RedisClientLike) => {
      const guard = createGuard({
        audience: 'support-app',
        trust: { issuer: ISSUER, jwks: authority.jwks() },
        store: createRedisStore({ client, onError: () => log.push(`${name}: Redis connection error`) }),
      });
      return guardTool(
        guard,
        { name: 'email.send', description: 'Send an email', input: z.object({ to: z.string().email() }), risk: 'write' },
        async (args) => {
          log.push(`${name}: sent to ${args.to}`);
        },
      );
    };
    const sendA = worker('worker A (ioredis)', io);
    const sendB = worker('worker B (node-redis)', nodeRedis);

    const attempt = async (name: string, send: typeof sendA, capability: string) => {
      try {
        await send({ to: 'customer@example.com' }, { capability });
      } catch (err) {
        if (!(err instanceof ToolDeniedError)) throw err;
        log.push(`${name}: denied (${err.code})`);
      }
    };

    // Budget of 2 sends, shared by every worker holding this capability.
    const capability = await authority.grant({
      agent: AGENT,
      audience: 'support-app',
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } },
      ttl: '5m',
    });
    await attempt('A', sendA, capability);
    await attempt('B', sendB, capability);
    await attempt('A', sendA, capability); // the third call anywhere is refused

    // Emergency stop for the agent, from the control plane.
    const fresh = await authority.grant({
      agent: AGENT,
      audience: 'support-app',
      intent: { id: 'ticket-4712', purpose: 'Answer ticket 4712' },
      tools: { 'email.send': {} },
      ttl: '5m',
    });
    await authority.revokeAgent(AGENT);
    await attempt('A', sendA, fresh);
    await attempt('B', sendB, fresh);
    return log;
  } finally {
    io.disconnect();
    nodeRedis.destroy();
    await server?.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await redisSharedStateExample(process.env.REDIS_URL)) console.log(line);
}
