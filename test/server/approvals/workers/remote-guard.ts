/**
 * A guard in its own process, asking the approvals service through createRemoteApprover. It
 * reports when the request is pending (with the service's id) and how the call ended.
 */
import { z } from 'zod';
import { createRemoteApprover } from '../../../../src/client/approvals.js';
import { createAuthority, createGuard, ToolDeniedError, guardTool } from '../../../../src/index.js';

interface Init {
  base: string;
  identityToken: string;
  approvalTimeoutMs: number;
}

process.once('message', (msg: Init) => {
  void (async () => {
    const authority = await createAuthority({ issuer: 'https://authz.example.com' });
    const guard = createGuard({
      audience: 'payments-app',
      trust: { issuer: 'https://authz.example.com', jwks: () => authority.jwks() },
      approvalTimeoutMs: msg.approvalTimeoutMs,
      approver: createRemoteApprover({
        url: msg.base,
        identityToken: msg.identityToken,
        pollMs: 50,
        onPending: (info) => process.send!({ type: 'submitted', id: info.id, route: info.route }),
      }),
      onApprovalPending: (info) => {
        process.send!({ type: 'pending', tool: info.tool, route: info.route, callId: info.callId });
      },
    });
    let ran = 0;
    const refund = guardTool(
      guard,
      { name: 'payments.refund', description: 'Refund an order', input: z.object({ orderId: z.string(), apiKey: z.string() }), risk: 'production' },
      async (args) => {
        ran++;
        return { refunded: args.orderId };
      },
    );
    const token = await authority.grant({
      agent: 'spiffe://example.org/agents/payments',
      audience: 'payments-app',
      intent: { id: 'refund-7', purpose: 'Refund order 7' },
      tools: { 'payments.refund': {} },
      ttl: '5m',
    });
    try {
      const result = await guard.withCapability(token, () => refund({ orderId: '7', apiKey: 'sk_live_secret' }));
      process.send!({ type: 'done', ok: true, result, ran });
    } catch (err) {
      process.send!({
        type: 'done',
        ok: false,
        code: err instanceof ToolDeniedError ? err.code : 'unexpected',
        message: err instanceof Error ? err.message : String(err),
        ran,
      });
    }
  })();
});
