/**
 * An approvals service on a real loopback port, wired to real parts: a SPIFFE trust domain
 * issuing JWT-SVIDs and the real JWT-SVID verifier.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createJwtSvidVerifier } from '../../../src/identity/jwt-svid.js';
import { createApprovalsServer, type ApprovalsServer, type ApprovalsServerOptions } from '../../../src/server/approvals/index.js';
import type { ApprovalRecord, ApprovalsStore } from '../../../src/server/approvals/store.js';
import type { GrantPolicy } from '../../../src/server/authority/grant-policy.js';
import { createTestTrustDomain, type TestTrustDomain } from '../../identity/trust-domain.js';

export const AUDIENCE = 'urn:tessera:approvals';
export const AGENT = 'spiffe://example.org/agents/payments';
export const OTHER_AGENT = 'spiffe://example.org/agents/support';
export const ALICE = 'spiffe://example.org/people/alice';
export const BOB = 'spiffe://example.org/people/bob';

export const POLICY: GrantPolicy = {
  roles: [
    { name: 'payments-approvers', match: [{ spiffe: 'spiffe://example.org/people/alice' }, { spiffe: 'spiffe://example.org/agents/payments' }], ceiling: { tools: { 'tickets.read': {} }, maxTtl: '1m' } },
    { name: 'support-approvers', match: [{ spiffe: 'spiffe://example.org/people/bob' }], ceiling: { tools: { 'tickets.read': {} }, maxTtl: '1m' } },
    { name: 'agents', match: [{ spiffe: 'spiffe://example.org/agents/*' }], ceiling: { tools: { 'tickets.read': {} }, maxTtl: '1m' } },
  ],
};

export async function trustDomain(): Promise<TestTrustDomain> {
  return createTestTrustDomain('example.org', { clock: () => Date.now(), audience: AUDIENCE });
}

export const verifierFor = (td: TestTrustDomain) =>
  createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': td.bundle() }, timeoutMs: 2000 });

export interface Running {
  server: ApprovalsServer;
  url: string;
  /** The base the remote approver is given: `${url}/approvals`. */
  base: string;
  close(): Promise<void>;
}

export async function startService(td: TestTrustDomain, store: ApprovalsStore, extra: Partial<ApprovalsServerOptions> = {}): Promise<Running> {
  const server = createApprovalsServer({
    store,
    identity: verifierFor(td),
    grantPolicy: POLICY,
    routes: { 'payments.*': 'payments-approvers' },
    defaultRoute: 'support-approvers',
    publicUrl: 'https://approvals.example.com',
    ...extra,
  });
  const http: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: server.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const port = (http.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    server,
    url,
    base: `${url}/approvals`,
    close: () =>
      new Promise<void>((resolve) => {
        (http as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        http.close(() => resolve());
      }),
  };
}

export const ARGS_HASH = 'A'.repeat(43);

/** What a guard submits, with its fields overridable. */
export function submission(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    intent: { id: 'refund-7', purpose: 'Refund order 7' },
    tool: 'payments.refund',
    risk: 'production',
    argsPreview: { orderId: '7', apiKey: '[redacted]' },
    argsHash: ARGS_HASH,
    capabilityId: 'cap-1',
    callId: 'call-1',
    why: 'refunds need a human',
    policyIds: ['baseline'],
    timeoutMs: 60_000,
    ...extra,
  };
}

export function record(extra: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const now = Date.now();
  return {
    id: `r${Math.random().toString(36).slice(2, 12)}`,
    agent: AGENT,
    intent: { id: 'refund-7', purpose: 'Refund order 7' },
    tool: 'payments.refund',
    risk: 'production',
    argsPreview: { orderId: '7' },
    argsHash: ARGS_HASH,
    capabilityId: 'cap-1',
    callId: 'call-1',
    why: 'refunds need a human',
    policyIds: ['baseline'],
    deadline: now + 60_000,
    route: 'payments-approvers',
    createdAt: now,
    ...extra,
  };
}

export async function post(url: string, token: string | undefined, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export async function get(url: string, token: string): Promise<Response> {
  return fetch(url, { headers: { authorization: `Bearer ${token}` } });
}
