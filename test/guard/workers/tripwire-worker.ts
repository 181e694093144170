/**
 * One guard process with tripwires on a shared Redis, for the cross-process tripwire tests and the
 * `tripwires` benchmark. Driven over IPC; replies with each call's outcome and when it ended
 * (ms since the epoch, sub-millisecond, comparable across processes on one machine).
 */
import { z } from 'zod';
import { createGuard, guardTool, type JWKS } from '../../../src/index.js';
import { createRedisStore } from '../../../src/store/redis.js';
import { connectClient, type ClientKind } from '../../store/redis-clients.js';

export type TripwireWorkerRequest =
  | { type: 'init'; port: number; kind: ClientKind; prefix: string; issuer: string; audience: string; jwks: JWKS; threshold: number }
  | { type: 'call'; seq: number; capability: string; ticketId: string };

export type TripwireWorkerReply = { type: 'ready' } | { seq: number; outcome: string; endedAt: number; ran: number } | { seq: number; error: string };

const now = (): number => performance.timeOrigin + performance.now();
let read: ((args: { ticketId: string }, options: { capability: string }) => Promise<unknown>) | undefined;
let ran = 0;

process.on('message', (msg: TripwireWorkerRequest) => {
  void (async () => {
    if (msg.type === 'init') {
      const client = await connectClient(msg.kind, msg.port);
      const store = createRedisStore({ client: client.client, prefix: msg.prefix });
      const guard = createGuard({
        audience: msg.audience,
        trust: { issuer: msg.issuer, jwks: msg.jwks },
        store,
        tripwires: { denialBurst: { threshold: msg.threshold, window: '1m' } },
      });
      read = guardTool(
        guard,
        { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
        async () => {
          ran++;
        },
      );
      process.send?.({ type: 'ready' } satisfies TripwireWorkerReply);
      return;
    }
    try {
      const outcome = await read!({ ticketId: msg.ticketId }, { capability: msg.capability }).then(
        () => 'allowed',
        (err: unknown) => (typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'error'),
      );
      process.send?.({ seq: msg.seq, outcome, endedAt: now(), ran } satisfies TripwireWorkerReply);
    } catch (err) {
      process.send?.({ seq: msg.seq, error: err instanceof Error ? err.message : String(err) } satisfies TripwireWorkerReply);
    }
  })();
});
