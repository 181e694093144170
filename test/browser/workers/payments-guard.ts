/**
 * A payments agent's guard in its own process, asking the approvals service through
 * createRemoteApprover. The test sends it calls to make; it reports each request's service id
 * once submitted and how each call ended.
 */
import { z } from 'zod';
import { createRemoteApprover } from '../../../src/client/approvals.js';
import { createAuthority, createGuard, ToolDeniedError, guardTool } from '../../../src/index.js';

interface Init {
  readonly type: 'init';
  readonly base: string;
  readonly identityToken: string;
}
interface Call {
  readonly type: 'call';
  readonly n: number;
  readonly approvalTimeoutMs: number;
  readonly args: { orderId: string; amount: number; note?: string };
}

const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'payments-app';
const authorityReady = createAuthority({ issuer: ISSUER });
let init: Init | undefined;
const ran: string[] = [];

process.on('message', (msg: Init | Call) => {
  if (msg.type === 'init') {
    init = msg;
    return;
  }
  void (async () => {
    const authority = await authorityReady;
    const guard = createGuard({
      audience: AUDIENCE,
      trust: { issuer: ISSUER, jwks: () => authority.jwks() },
      approvalTimeoutMs: msg.approvalTimeoutMs,
      approver: createRemoteApprover({
        url: init!.base,
        identityToken: init!.identityToken,
        pollMs: 50,
        onPending: (info) => process.send!({ type: 'submitted', n: msg.n, id: info.id }),
      }),
    });
    const refund = guardTool(
      guard,
      { name: 'payments.refund', description: 'Refund an order', input: z.object({ orderId: z.string(), amount: z.number(), note: z.string().optional() }), risk: 'external' },
      async (args) => {
        ran.push(args.orderId);
        return { refunded: args.orderId };
      },
    );
    const capability = await authority.grant({
      agent: 'spiffe://example.org/agents/payments',
      audience: AUDIENCE,
      intent: { id: 'refunds-2611', purpose: 'Refund damaged orders' },
      tools: { 'payments.refund': {} },
      ttl: '5m',
    });
    try {
      const result = await guard.withCapability(capability, () => refund(msg.args));
      process.send!({ type: 'done', n: msg.n, ok: true, result, ran });
    } catch (err) {
      const denied = err instanceof ToolDeniedError;
      process.send!({ type: 'done', n: msg.n, ok: false, code: denied ? err.code : 'unexpected', reason: denied ? err.reason : String(err), ran });
    }
  })();
});
