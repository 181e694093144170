import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createMemoryApprovalsStore } from '../../../src/server/approvals/store.js';
import { signWebhook, verifyWebhookSignature } from '../../../src/server/approvals/webhooks.js';
import type { TestTrustDomain } from '../../identity/trust-domain.js';
import { AGENT, post, startService, submission, trustDomain, type Running } from './support.js';

const SECRET = 's'.repeat(40);
interface Hit {
  path: string;
  body: string;
  signature: string | undefined;
}

let receiver: Server;
let receiverUrl: string;
const hits: Hit[] = [];
let failuresLeft = 0;

const readAll = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

let td: TestTrustDomain;
let svc: Running;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    void readAll(req).then((body) => {
      hits.push({ path: req.url ?? '', body, signature: req.headers['x-tessera-signature'] as string | undefined });
      if (req.url === '/gone') res.writeHead(410).end();
      else if (failuresLeft > 0) {
        failuresLeft--;
        res.writeHead(500).end();
      } else res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  td = await trustDomain();
  svc = await startService(td, createMemoryApprovalsStore(), {
    webhooks: {
      'payments-approvers': [{ url: `${receiverUrl}/json`, secret: SECRET }],
      'support-approvers': [{ url: `${receiverUrl}/slack`, secret: SECRET, format: 'slack' }],
    },
    webhookDelivery: { attempts: 3, backoffMs: 20, attemptTimeoutMs: 1000 },
  });
});
afterAll(async () => {
  await svc.close();
  await new Promise((r) => receiver.close(r));
});

describe('approval webhooks', () => {
  test('after a 500 the notification is retried and delivered, signed, with the masked preview only', async () => {
    hits.length = 0;
    failuresLeft = 1;
    const res = await post(`${svc.base}/requests`, await td.svid(AGENT), submission({ argsPreview: { orderId: '7', apiKey: '[redacted]' } }));
    const { id } = (await res.json()) as { id: string };
    await svc.server.idle();
    expect(hits.map((h) => h.path)).toEqual(['/json', '/json']);
    const last = hits[1]!;
    expect(verifyWebhookSignature(SECRET, last.signature, last.body)).toBe(true);
    expect(JSON.parse(last.body)).toEqual({
      id,
      agent: AGENT,
      intent: { id: 'refund-7', purpose: 'Refund order 7' },
      tool: 'payments.refund',
      risk: 'production',
      why: 'refunds need a human',
      argsPreview: { orderId: '7', apiKey: '[redacted]' },
      deadline: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      link: `https://approvals.example.com/approvals/inbox?id=${id}`,
    });
  });

  test('delivery stops after the bounded number of attempts', async () => {
    hits.length = 0;
    failuresLeft = 10;
    await post(`${svc.base}/requests`, await td.svid(AGENT), submission());
    await svc.server.idle();
    failuresLeft = 0;
    expect(hits).toHaveLength(3);
  });

  test('the Slack format sends { text } and escapes the agent-chosen purpose so it cannot become a link', async () => {
    hits.length = 0;
    await post(`${svc.base}/requests`, await td.svid(AGENT), submission({ tool: 'tickets.close', intent: { id: 'x', purpose: '<https://evil.example|click>' } }));
    await svc.server.idle();
    expect(hits).toHaveLength(1);
    const body = JSON.parse(hits[0]!.body) as Record<string, string>;
    expect(Object.keys(body)).toEqual(['text']);
    expect(body.text).toContain('&lt;https://evil.example|click&gt;');
    expect(body.text).not.toContain('<https://evil.example');
  });
});

describe('approval webhook answers', () => {
  test('a 4xx answer is final: no retry', async () => {
    const own = await startService(td, createMemoryApprovalsStore(), {
      webhooks: { 'payments-approvers': [{ url: `${receiverUrl}/gone`, secret: SECRET }] },
      webhookDelivery: { attempts: 3, backoffMs: 20, attemptTimeoutMs: 1000 },
    });
    try {
      hits.length = 0;
      await post(`${own.base}/requests`, await td.svid(AGENT), submission());
      await own.server.idle();
      expect(hits.map((h) => h.path)).toEqual(['/gone']);
    } finally {
      await own.close();
    }
  });
});

describe('verifyWebhookSignature', () => {
  const body = '{"id":"x"}';
  const now = 1_700_000_000_000;
  const header = signWebhook(SECRET, body, now / 1000);
  test('accepts a fresh, matching signature', () => expect(verifyWebhookSignature(SECRET, header, body, { now })).toBe(true));
  test('refuses a changed body', () => expect(verifyWebhookSignature(SECRET, header, '{"id":"y"}', { now })).toBe(false));
  test('refuses another secret', () => expect(verifyWebhookSignature('t'.repeat(40), header, body, { now })).toBe(false));
  test('refuses a signature older than the tolerance', () => expect(verifyWebhookSignature(SECRET, header, body, { now: now + 301_000 })).toBe(false));
  test('refuses a missing header', () => expect(verifyWebhookSignature(SECRET, undefined, body, { now })).toBe(false));
});
