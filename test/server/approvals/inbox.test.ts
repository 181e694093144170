/**
 * The inbox over HTTP: who may see and decide what, forms that only the inbox itself can post,
 * sessions that end, and a page that shows hostile request text inert. Sessions are sealed with
 * the inbox's own session code (the browser test signs in through the provider for real).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { csrfToken } from '../../../src/server/approvals/csrf.js';
import { createApprovalsInbox } from '../../../src/server/approvals/inbox.js';
import { deriveKeys, seal, type InboxSession } from '../../../src/server/approvals/session.js';
import { createMemoryApprovalsStore, type ApprovalRecord, type ApprovalsStore } from '../../../src/server/approvals/store.js';
import { createManualClock, type ManualClock } from '../../../src/testing/clock.js';
import { startInboxRig, type InboxRig } from './inbox-support.js';

const AGENT = 'spiffe://example.org/agents/support';
let clock: ManualClock;
let store: ApprovalsStore;
let rig: InboxRig;

beforeAll(async () => {
  clock = createManualClock();
  store = createMemoryApprovalsStore({ clock });
  rig = await startInboxRig({ store, clock, sessionTtl: '30m' });
});
afterAll(() => rig.stop());

let seq = 0;
async function pending(extra: Partial<ApprovalRecord> = {}): Promise<ApprovalRecord> {
  const record: ApprovalRecord = {
    id: `req${++seq}${randomBytes(8).toString('base64url')}`,
    agent: AGENT,
    intent: { id: 'refund-1001', purpose: 'Refund order 1001' },
    tool: 'payments.refund',
    risk: 'external',
    argsPreview: { orderId: '"1001"', amount: '50' },
    argsHash: 'h'.repeat(43),
    capabilityId: `cap-${seq}`,
    callId: `call-${seq}`,
    why: '"payments.refund" is an external action and needs a human\'s approval',
    policyIds: ['tessera.baseline.high-risk'],
    deadline: clock() + 60_000,
    route: 'payments-approvers',
    createdAt: clock(),
    ...extra,
  };
  await store.put(record);
  return record;
}

const keys = () => deriveKeys(rig.sessionSecret);
function sessionOf(user: 'alice' | 'bob', extra: Partial<InboxSession> = {}): InboxSession {
  return {
    sid: randomBytes(16).toString('base64url'),
    id: `${rig.issuer}#${user}`,
    issuer: rig.issuer,
    name: user,
    attributes: { groups: user === 'alice' ? ['payments'] : ['support'] },
    expiresAt: clock() + 30 * 60_000,
    ...extra,
  };
}
const cookieOf = (s: InboxSession) => `tessera-approver=${seal(keys(), 'session', s)}`;

function get(path: string, cookie?: string): Promise<Response> {
  return rig.inbox.fetch(new Request(`${rig.origin}${path}`, { headers: cookie === undefined ? {} : { cookie }, redirect: 'manual' }));
}
function post(id: string, session: InboxSession, form: Record<string, string>, headers: Record<string, string> = { origin: rig.origin }): Promise<Response> {
  return rig.inbox.fetch(
    new Request(`${rig.origin}/approvals/inbox/${id}/decision`, {
      method: 'POST',
      headers: { cookie: cookieOf(session), 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form),
      redirect: 'manual',
    }),
  );
}
const tokenFor = (s: InboxSession, id: string, expiresAt = clock() + 60_000) => csrfToken(keys().csrf, s.sid, id, expiresAt);
const decisionOf = async (id: string) => (await store.get(id))?.decision;

describe('sign-in', () => {
  test('the inbox without a session sends the browser to sign in', async () => {
    const res = await get('/approvals/inbox');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/approvals/login');
  });

  test('sign-in starts an authorization code flow with PKCE S256, state and nonce, remembered in an HttpOnly Lax cookie', async () => {
    const res = await get('/approvals/login');
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location')!);
    expect(to.origin).toBe(rig.issuer);
    expect(to.searchParams.get('response_type')).toBe('code');
    expect(to.searchParams.get('code_challenge_method')).toBe('S256');
    expect(to.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(to.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(to.searchParams.get('redirect_uri')).toBe(`${rig.inboxUrl}/callback`);
    const set = res.headers.get('set-cookie')!;
    expect(set).toMatch(/^tessera-login=v1\./);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Lax/);
    expect(set).toMatch(/Path=\//);
    // The PKCE verifier never travels in the clear, even to the browser that holds it.
    expect(set).not.toContain(to.searchParams.get('state')!);
  });

  test('a callback whose state differs from the one this browser started with signs nobody in', async () => {
    const started = await get('/approvals/login');
    const login = started.headers.get('set-cookie')!.split(';')[0]!;
    const res = await get('/approvals/callback?code=abc&state=forged', login);
    expect(res.status).toBe(400);
    expect(res.headers.get('set-cookie') ?? '').not.toMatch(/tessera-approver=v1/);
  });

  test('a callback without the sign-in cookie (another browser, or too late) signs nobody in', async () => {
    const res = await get('/approvals/callback?code=abc&state=xyz');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('start again');
  });

  test('a forged or tampered session cookie is no session', async () => {
    const sealed = seal(keys(), 'session', sessionOf('alice'));
    const tampered = sealed.slice(0, -3) + (sealed.endsWith('AAA') ? 'BBB' : 'AAA');
    expect((await get('/approvals/inbox', `tessera-approver=${tampered}`)).status).toBe(303);
    const otherSecret = seal(deriveKeys(randomBytes(32)), 'session', sessionOf('alice'));
    expect((await get('/approvals/inbox', `tessera-approver=${otherSecret}`)).status).toBe(303);
    // A sign-in cookie is sealed for another purpose and never counts as a session.
    const loginKind = seal(keys(), 'login', sessionOf('alice'));
    expect((await get('/approvals/inbox', `tessera-approver=${loginKind}`)).status).toBe(303);
  });

  test('a session ends at its expiry: the page asks to sign in again and a decision is refused', async () => {
    const r = await pending();
    const s = sessionOf('alice');
    const token = tokenFor(s, r.id, clock() + 3_600_000);
    clock.advance('31m');
    expect((await get('/approvals/inbox', cookieOf(s))).headers.get('location')).toBe('/approvals/login');
    const res = await post(r.id, s, { csrf: token, decision: 'approve' });
    expect(res.status).toBe(401);
    expect(await decisionOf(r.id)).toBeUndefined();
  });
});

describe('the page', () => {
  beforeEach(() => clock.set(clock.start + seq * 3_600_000));

  test('a strict CSP: scripts and styles only by this response\'s nonce, no framing, forms only to the inbox', async () => {
    await pending();
    const res = await get('/approvals/inbox', cookieOf(sessionOf('alice')));
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)![1]!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("base-uri 'none'");
    expect(csp).not.toContain('unsafe');
    const body = await res.text();
    expect([...body.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual([`<script nonce="${nonce}">`]);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  test('hostile request text is shown escaped and readable: no markup, no bidi or control character reaches the page', async () => {
    const r = await pending({
      agent: `${AGENT}\u202Egnp.exe`,
      tool: 'payments.refund',
      why: 'needs approval <img src=x onerror=alert(1)>',
      intent: { id: 'i"><script>alert(2)</script>', purpose: 'Refund \u2066hidden\u2069 order\u0000\u001b[31m' },
      argsPreview: { '<b>key</b>': '"<script>alert(3)</script>"', note: `"\u202Eevil\u200b"`, long: 'A'.repeat(5000) },
    });
    const body = await (await get('/approvals/inbox', cookieOf(sessionOf('alice')))).text();
    const article = body.slice(body.indexOf(`id="req-${r.id}"`), body.indexOf('</article>', body.indexOf(`id="req-${r.id}"`)));
    expect(article).not.toMatch(/<script|<img|<b>|onerror=alert\(1\)>/);
    expect(article).toContain('&lt;script&gt;alert(3)&lt;/script&gt;');
    expect(article).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(article).toContain('&lt;b&gt;key&lt;/b&gt;');
    expect(article).toContain('i&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(article).toContain('⟨U+202E⟩gnp.exe');
    expect(article).toContain('⟨U+2066⟩hidden⟨U+2069⟩');
    expect(article).toContain('⟨U+0000⟩⟨U+001B⟩[31m');
    expect(article).toContain('⟨U+200B⟩');
    // eslint-disable-next-line no-control-regex
    expect(body).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/);
    expect(article).toContain(`${'A'.repeat(2000)} … (3000 more characters)`);
  });

  test('a notification link (inbox?id=) lists that request first, and survives the sign-in redirect', async () => {
    const older = await pending();
    const linked = await pending();
    expect((await get(`/approvals/inbox?id=${linked.id}`)).headers.get('location')).toBe(`/approvals/login?id=${linked.id}`);
    expect((await get('/approvals/inbox?id=<x>')).headers.get('location')).toBe('/approvals/login');
    const body = await (await get(`/approvals/inbox?id=${linked.id}`, cookieOf(sessionOf('alice')))).text();
    expect(body.indexOf(`id="req-${linked.id}"`)).toBeGreaterThan(0);
    expect(body.indexOf(`id="req-${linked.id}"`)).toBeLessThan(body.indexOf(`id="req-${older.id}"`));
  });

  test('an approver without the route role sees the request, gets no form, and a direct post is refused by decide()', async () => {
    const r = await pending();
    const bob = sessionOf('bob');
    const body = await (await get('/approvals/inbox', cookieOf(bob))).text();
    expect(body).toContain(`id="req-${r.id}"`);
    expect(body).toContain('Only members of &quot;payments-approvers&quot; may decide this request.');
    expect(body).not.toContain(`/approvals/inbox/${r.id}/decision`);
    const res = await post(r.id, bob, { csrf: tokenFor(bob, r.id), decision: 'approve', reason: 'looks fine' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('approver_not_in_route');
    expect(await decisionOf(r.id)).toBeUndefined();
  });

  test("an approver can not approve a request of their own agent identity", async () => {
    const alice = sessionOf('alice');
    const r = await pending({ agent: alice.id });
    const body = await (await get('/approvals/inbox', cookieOf(alice))).text();
    expect(body).toContain('This request comes from your own agent identity');
    const res = await post(r.id, alice, { csrf: tokenFor(alice, r.id), decision: 'approve' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('approval_self');
    expect(await decisionOf(r.id)).toBeUndefined();
  });

  test('the page form approves: 303 back to the inbox, the decision names the approver and the reason', async () => {
    const r = await pending();
    const alice = sessionOf('alice');
    const body = await (await get('/approvals/inbox', cookieOf(alice))).text();
    const token = new RegExp(`action="/approvals/inbox/${r.id}/decision" class="decide"><input type="hidden" name="csrf" value="([^"]+)"`).exec(body)![1]!;
    const res = await post(r.id, alice, { csrf: token, decision: 'approve', reason: 'refund within policy' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/approvals/inbox?done=approved');
    expect(await decisionOf(r.id)).toEqual({ outcome: 'approved', approver: alice.id, reason: 'refund within policy', decidedAt: clock() });
  });
});

describe('forged and replayed posts', () => {
  test('a cross-site post is refused before anything else, even with a valid token', async () => {
    const r = await pending({ deadline: clock() + 60_000 });
    const alice = sessionOf('alice');
    const ok = { csrf: tokenFor(alice, r.id), decision: 'approve' };
    expect((await post(r.id, alice, ok, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(r.id, alice, ok, { origin: 'http://127.0.0.1:1' })).status).toBe(403);
    expect((await post(r.id, alice, ok, { origin: 'null' })).status).toBe(403);
    expect((await post(r.id, alice, ok, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post(r.id, alice, ok, {})).status).toBe(403);
    expect(await decisionOf(r.id)).toBeUndefined();
  });

  test('a missing, foreign or expired CSRF token is refused', async () => {
    const r = await pending({ deadline: clock() + 3_600_000 });
    const other = await pending({ deadline: clock() + 3_600_000 });
    const alice = sessionOf('alice');
    const res = await post(r.id, alice, { decision: 'approve' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('not issued to this session for this request');
    expect((await post(r.id, alice, { csrf: tokenFor(alice, other.id), decision: 'approve' })).status).toBe(403);
    expect((await post(r.id, alice, { csrf: tokenFor(sessionOf('alice'), r.id), decision: 'approve' })).status).toBe(403);
    const soon = tokenFor(alice, r.id, clock() + 1000);
    clock.advance('2s');
    expect((await post(r.id, alice, { csrf: soon, decision: 'approve' })).status).toBe(403);
    expect(await decisionOf(r.id)).toBeUndefined();
  });

  test('a replayed decision post is refused: the first decision wins', async () => {
    const r = await pending({ deadline: clock() + 60_000 });
    const alice = sessionOf('alice');
    const form = { csrf: tokenFor(alice, r.id), decision: 'deny', reason: 'too much' };
    expect((await post(r.id, alice, form)).status).toBe(303);
    const replay = await post(r.id, alice, { ...form, decision: 'approve' });
    expect(replay.status).toBe(409);
    expect(await replay.text()).toContain('approval_already_decided');
    expect((await decisionOf(r.id))?.outcome).toBe('denied');
  });
});

describe('deadlines', () => {
  test('a store that never answers: the inbox answers 503 within its deadline, and a decision is not recorded', async () => {
    const hung: ApprovalsStore = { ...store, listPending: () => new Promise(() => {}), get: () => new Promise(() => {}) };
    const slowRig = await startInboxRig({ store: hung, storeTimeoutMs: 100 });
    try {
      const keysOf = deriveKeys(slowRig.sessionSecret);
      const s = { ...sessionOf('alice'), expiresAt: Date.now() + 60_000 };
      const cookie = `tessera-approver=${seal(keysOf, 'session', s)}`;
      const started = Date.now();
      const page = await slowRig.inbox.fetch(new Request(`${slowRig.origin}/approvals/inbox`, { headers: { cookie } }));
      expect(page.status).toBe(503);
      const res = await slowRig.inbox.fetch(
        new Request(`${slowRig.origin}/approvals/inbox/abc/decision`, {
          method: 'POST',
          headers: { cookie, origin: slowRig.origin, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf: csrfToken(keysOf.csrf, s.sid, 'abc', Date.now() + 60_000), decision: 'approve' }),
        }),
      );
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('reload the inbox to see whether the decision was recorded');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await slowRig.stop();
    }
  });

  test('an OpenID provider that never answers: sign-in fails with 502 within its deadline', async () => {
    const { createServer } = await import('node:http');
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const inbox = createApprovalsInbox({
        store,
        grantPolicy: { roles: [{ name: 'a', match: [{ spiffe: 'spiffe://x/*' }], ceiling: { tools: { 'a.*': {} }, maxTtl: '5m' } }] },
        publicUrl: 'http://127.0.0.1:1/approvals',
        oidc: { issuer: `http://127.0.0.1:${port}`, clientId: 'c', timeoutMs: 200 },
        sessionSecret: randomBytes(32),
      });
      const started = Date.now();
      const res = await inbox.fetch(new Request('http://127.0.0.1:1/approvals/login'));
      expect(res.status).toBe(502);
      expect(await res.text()).toContain('did not answer within 200 ms');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});

describe('options', () => {
  const base = () => ({ store, grantPolicy: { roles: [{ name: 'a', match: [{ spiffe: 'spiffe://x/*' }], ceiling: { tools: { 'a.*': {} }, maxTtl: '5m' as const } }] }, oidc: { issuer: 'https://op.example.com', clientId: 'c' }, sessionSecret: randomBytes(32) });

  test('plain http off loopback is refused at construction, naming the option', () => {
    expect(() => createApprovalsInbox({ ...base(), publicUrl: 'http://approvals.example.com/approvals' })).toThrow(/publicUrl must use https/);
  });

  test('a short session secret is refused', () => {
    expect(() => createApprovalsInbox({ ...base(), publicUrl: 'https://a.example.com/approvals', sessionSecret: 'short' })).toThrow(RangeError);
  });

  test('on https the cookies carry the __Host- prefix and Secure', async () => {
    const inbox = createApprovalsInbox({ ...base(), publicUrl: 'https://approvals.example.com/approvals', oidc: { issuer: rig.issuer, clientId: 'approvals-inbox' } });
    const res = await inbox.fetch(new Request('https://approvals.example.com/approvals/login'));
    expect(res.status).toBe(303);
    const set = res.headers.get('set-cookie')!;
    expect(set).toMatch(/^__Host-tessera-login=v1\./);
    expect(set).toMatch(/; Secure/);
    expect(set).toMatch(/Path=\//);
    expect(set).not.toMatch(/Domain=/i);
  });
});
