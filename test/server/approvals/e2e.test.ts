import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decide } from '../../../src/server/approvals/decide.js';
import { createMemoryApprovalsStore } from '../../../src/server/approvals/store.js';
import type { TestTrustDomain } from '../../identity/trust-domain.js';
import { AGENT, ALICE, startService, trustDomain, type Running } from './support.js';

const workerPath = fileURLToPath(new URL('./workers/remote-guard.ts', import.meta.url));
const store = createMemoryApprovalsStore();
let td: TestTrustDomain;
let svc: Running;

beforeAll(async () => {
  td = await trustDomain();
  svc = await startService(td, store);
});
afterAll(() => svc.close());

type Message = { type: string; [k: string]: unknown };

/** Runs the guard process; `onSubmitted` is given the service's request id. */
async function runGuard(approvalTimeoutMs: number, onSubmitted: (id: string) => Promise<void>): Promise<Message[]> {
  const proc = fork(workerPath, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: Message[] = [];
  try {
    return await new Promise<Message[]>((resolve, reject) => {
      proc.on('error', reject);
      proc.on('exit', (code) => reject(new Error(`guard process exited (${code}) before it finished`)));
      proc.on('message', (m: Message) => {
        messages.push(m);
        if (m.type === 'submitted') onSubmitted(m.id as string).catch(reject);
        if (m.type === 'done') resolve(messages);
      });
      void td.svid(AGENT).then((identityToken) => proc.send({ base: svc.base, identityToken, approvalTimeoutMs }));
    });
  } finally {
    proc.removeAllListeners('exit');
    proc.kill();
  }
}

const approver = { approverIdentity: ALICE, approverRoles: ['payments-approvers'] };

describe('a guard in another process waits for a person through the approvals service', () => {
  test('approved: the guarded call completes, after the guard reported the request pending with its route', async () => {
    const messages = await runGuard(20_000, async (id) => {
      const pending = await store.get(id);
      // The service holds the masked preview, never the raw secret argument.
      expect(JSON.stringify(pending)).not.toContain('sk_live_secret');
      const r = await decide(store, { id, ...approver, outcome: 'approved', now: Date.now() });
      expect(r.ok).toBe(true);
    });
    expect(messages.find((m) => m.type === 'pending')).toMatchObject({ tool: 'payments.refund', route: 'payments-approvers' });
    expect(messages.at(-1)).toMatchObject({ type: 'done', ok: true, result: { refunded: '7' }, ran: 1 });
  }, 30_000);

  test("denied with a reason: approval_denied carrying the approver's reason; the tool never ran", async () => {
    const messages = await runGuard(20_000, async (id) => {
      await decide(store, { id, ...approver, outcome: 'denied', reason: 'order 7 was already refunded', now: Date.now() });
    });
    const done = messages.at(-1)!;
    expect(done).toMatchObject({ type: 'done', ok: false, code: 'approval_denied', ran: 0 });
    expect(done.message).toContain('order 7 was already refunded');
  }, 30_000);

  test('nobody answers: approval_timeout; the tool never ran', async () => {
    const messages = await runGuard(1_500, async () => undefined);
    expect(messages.at(-1)).toMatchObject({ type: 'done', ok: false, code: 'approval_timeout', ran: 0 });
  }, 30_000);
});
