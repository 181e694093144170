/**
 * One agent worker process for the cross-process tests: its own guard, its own Redis
 * connection (to one server, or a cluster client seeded with a cluster's nodes), the same
 * authority's keys. Driven by messages from the test over IPC.
 */
import { z } from 'zod';
import { createGuard, verifyCallCredential, type Guard, type JWKS, guardTool } from '../../../src/index.js';
import { createRedisStore, type RedisStore } from '../../../src/store/redis.js';
import { connectClient, connectClusterClient, type ClientKind, type TestClient } from '../redis-clients.js';

export type WorkerRequest =
  | { type: 'init'; port: number; seeds?: Array<{ host: string; port: number }>; kind: ClientKind; issuer: string; audience: string; jwks: JWKS }
  | { type: 'call'; seq: number; prefix: string; capability: string; count: number; at: number }
  | { type: 'consume'; seq: number; prefix: string; token: string; count: number; jwks: JWKS; issuer: string; audience: string; at: number }
  | { type: 'revoke'; seq: number; prefix: string; what: 'capability' | 'agent'; id: string };

export type WorkerReply =
  | { type: 'ready' }
  | { seq: number; outcomes: string[]; ran: number }
  | { seq: number; error: string };

interface Lane {
  store: RedisStore;
  guard: Guard;
  read: (args: { ticketId: string }, options: { capability: string }) => Promise<unknown>;
  ran: number;
}

let client: TestClient | undefined;
let init: Extract<WorkerRequest, { type: 'init' }> | undefined;
const lanes = new Map<string, Lane>();

const send = (reply: WorkerReply): void => {
  process.send?.(reply);
};

// Every worker waits for the same instant, so that their requests reach Redis together.
const until = (at: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

function lane(prefix: string): Lane {
  let l = lanes.get(prefix);
  if (l !== undefined) return l;
  const store = createRedisStore({ client: client!.client, prefix });
  const guard = createGuard({ audience: init!.audience, trust: { issuer: init!.issuer, jwks: init!.jwks }, store });
  const created: Lane = {
    store,
    guard,
    ran: 0,
    read: guardTool(
      guard,
      { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
      async () => {
        created.ran++;
      },
    ),
  };
  lanes.set(prefix, created);
  l = created;
  return l;
}

const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (err: unknown) => (typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'error'),
  );

process.on('message', (msg: WorkerRequest) => {
  void (async () => {
    if (msg.type === 'init') {
      init = msg;
      client = msg.seeds === undefined ? await connectClient(msg.kind, msg.port) : await connectClusterClient(msg.kind, msg.seeds);
      send({ type: 'ready' });
      return;
    }
    try {
      const l = lane(msg.prefix);
      if (msg.type === 'call') {
        await until(msg.at);
        const outcomes = await Promise.all(Array.from({ length: msg.count }, () => outcome(l.read({ ticketId: '4711' }, { capability: msg.capability }))));
        send({ seq: msg.seq, outcomes, ran: l.ran });
      } else if (msg.type === 'consume') {
        await until(msg.at);
        const options = { jwks: msg.jwks, issuer: msg.issuer, audience: msg.audience, store: l.store };
        const outcomes = await Promise.all(Array.from({ length: msg.count }, () => outcome(verifyCallCredential(msg.token, options))));
        send({ seq: msg.seq, outcomes, ran: l.ran });
      } else {
        await (msg.what === 'capability' ? l.guard.revokeCapability(msg.id) : l.guard.revokeAgent(msg.id));
        send({ seq: msg.seq, outcomes: ['revoked'], ran: l.ran });
      }
    } catch (err) {
      send({ seq: msg.seq, error: err instanceof Error ? err.name : 'NonError' });
    }
  })();
});

process.on('disconnect', () => {
  void client?.close().finally(() => process.exit(0));
});
