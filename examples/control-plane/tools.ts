/**
 * Process 2 of 3: where the tools run. The guard trusts the authority by its issuer URL only
 * (keys come from the authority's RFC 8414 metadata) and shares the authority's Redis store, so
 * call budgets and emergency stops hold across processes. Tool calls arrive over HTTP with the
 * capability and the agent's proof of possession for that one call.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { createGuard } from '../../src/guard/create-guard.js';
import { ToolDeniedError } from '../../src/errors.js';
import { createRedisStore } from '../../src/store/redis.js';
import { guardTool } from '../../src/index.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined || v === '') throw new TypeError(`${name} is required`);
  return v;
};

const redisUrl = new URL(env('REDIS_URL'));
const redis = new Redis({ host: redisUrl.hostname, port: Number(redisUrl.port), enableOfflineQueue: false, lazyConnect: true });
await redis.connect();

const guard = createGuard({
  audience: env('GUARD_AUDIENCE'),
  trust: { issuer: env('AUTHORITY_ISSUER') },
  store: createRedisStore({ client: redis, timeoutMs: 1000 }),
});

type AnyTool = (args: unknown, options: { callId: string }) => Promise<unknown>;
const tools = new Map<string, AnyTool>([
  ['tickets.read', guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ id: z.string() }), risk: 'read' }, async ({ id }) => ({ id, subject: 'Refund request' })) as AnyTool],
  ['email.send', guardTool(guard, { name: 'email.send', description: 'Email a customer', input: z.object({ to: z.string().email() }), risk: 'write' }, async ({ to }) => ({ queued: to })) as AnyTool],
]);

interface CallRequest {
  tool: string;
  args: Record<string, unknown>;
  callId: string;
  capability: string;
  proof?: string;
}

const http = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const call = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CallRequest;
      const tool = tools.get(call.tool);
      let answer: unknown;
      if (tool === undefined) {
        answer = { denied: true, code: 'tool_not_granted', reason: 'no such tool here' };
      } else {
        // The agent signed its proof for exactly this call; the guard checks it against the
        // capability's cnf.jkt, the arguments, the call id and this audience.
        const prover = call.proof === undefined ? undefined : { prove: () => call.proof! };
        try {
          const result = await guard.withCapability({ capability: call.capability, ...(prover ? { prover } : {}) }, () =>
            tool(call.args, { callId: call.callId }),
          );
          answer = { allowed: true, result };
        } catch (err) {
          answer = err instanceof ToolDeniedError ? err.toJSON() : { denied: true, code: 'error', reason: 'the tool failed' };
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    })();
  });
});
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
process.send?.({ type: 'ready', url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` });
process.on('disconnect', () => {
  http.closeAllConnections();
  http.close();
  redis.disconnect();
});
