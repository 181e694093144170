/**
 * The approvals inbox: a page where a person signs in with the organisation's OpenID provider,
 * sees the requests waiting for a decision and approves or denies them. Whether this person may
 * decide a request is never decided here: `decide()` checks the route role, the deadline, the
 * "not your own agent" rule and first-decision-wins. The inbox only proves who is asking
 * (session), that they meant it (CSRF token and Origin) and which roles they hold (grant policy).
 */
import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import { z } from 'zod';
import type { AgentIdentity } from '../../identity/types.js';
import { parseOptions } from '../../util/options.js';
import { durationSeconds, systemClock, type Clock, type Duration } from '../../util/time.js';
import { withDeadline } from '../authority/deadline.js';
import { compileGrantPolicy, type GrantPolicy } from '../authority/grant-policy.js';
import { checkCsrfToken, csrfToken, sameOrigin } from './csrf.js';
import { decide } from './decide.js';
import { renderInbox, renderMessage, type RenderedRequest } from './inbox-render.js';
import { ApproverSignInError, createOidcLogin, isLoopbackHttp, type OidcLoginConfig } from './oidc-login.js';
import { cookieNames, deriveKeys, readLoginState, readSession, seal, type InboxSession } from './session.js';
import type { ApprovalsStore } from './store.js';

export interface ApprovalsInboxOptions {
  /** Where the requests live (the service's store). */
  store: ApprovalsStore;
  /** The grant policy whose roles say who may approve which route (e.g. `payments-approvers`). */
  grantPolicy: GrantPolicy;
  /**
   * The inbox's public base URL, e.g. `"https://authz.example.com/approvals"`: the OIDC redirect
   * URI is `<publicUrl>/callback` and forms must come from its origin. https, or plain http on
   * loopback only.
   */
  publicUrl: string;
  oidc: OidcLoginConfig;
  /** At least 32 bytes; seals session cookies and signs CSRF tokens. Every process serving the inbox uses the same one. */
  sessionSecret: string | Uint8Array;
  /** Lifetime of an approver's session; default `"1h"`. */
  sessionTtl?: Duration;
  /** Deadline of each store call, ms; default 2000. */
  storeTimeoutMs?: number;
  clock?: Clock;
}

export interface ApprovalsInbox {
  readonly app: Hono;
  fetch(request: Request): Promise<Response>;
  /** The OIDC redirect URI to register with the provider. */
  readonly redirectUri: string;
}

const optionsSchema = z.strictObject({
  store: z.custom<ApprovalsStore>((s) => typeof s === 'object' && s !== null && typeof (s as ApprovalsStore).listPending === 'function' && typeof (s as ApprovalsStore).get === 'function', { message: 'must be an ApprovalsStore' }),
  grantPolicy: z.custom<GrantPolicy>((p) => typeof p === 'object' && p !== null, { message: 'must be a grant policy object' }),
  publicUrl: z.string().url(),
  oidc: z.strictObject({
    issuer: z.string().url(),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    scope: z.string().optional(),
    timeoutMs: z.number().int().min(1).max(60_000).optional(),
  }),
  sessionSecret: z.union([z.string(), z.instanceof(Uint8Array)]),
  sessionTtl: z.union([z.number(), z.string()]).optional(),
  storeTimeoutMs: z.number().int().min(1).max(60_000).optional(),
  clock: z.custom<Clock>((c) => typeof c === 'function', { message: 'must be a function' }).optional(),
});

/** The sign-in round trip (provider login and consent) must finish within this. */
const LOGIN_TTL_MS = 10 * 60_000;
/** A form stays usable this long after the page was rendered (and never beyond the session). */
const FORM_TTL_MS = 30 * 60_000;
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function createApprovalsInbox(options: ApprovalsInboxOptions): ApprovalsInbox {
  const o = parseOptions(optionsSchema, options, 'createApprovalsInbox options');
  const publicUrl = new URL(o.publicUrl);
  const secure = publicUrl.protocol === 'https:';
  if (!secure && !isLoopbackHttp(publicUrl)) throw new TypeError('publicUrl must use https (plain http only on 127.0.0.1, localhost or [::1])');
  if (publicUrl.search !== '' || publicUrl.hash !== '' || publicUrl.username !== '') throw new TypeError('publicUrl must have no query, fragment or credentials');
  const basePath = publicUrl.pathname.replace(/\/+$/, '');
  const origin = publicUrl.origin;
  const redirectUri = `${origin}${basePath}/callback`;
  const keys = deriveKeys(o.sessionSecret);
  const sessionTtlMs = durationSeconds((o.sessionTtl ?? '1h') as Duration, 'sessionTtl') * 1000;
  const storeTimeoutMs = o.storeTimeoutMs ?? 2000;
  const clock = o.clock ?? systemClock;
  const policy = compileGrantPolicy(o.grantPolicy);
  const login = createOidcLogin(o.oidc as OidcLoginConfig, redirectUri);
  const names = cookieNames(secure);
  const store = o.store;

  const rolesOf = (s: InboxSession): string[] => {
    const identity: AgentIdentity = { id: s.id, issuer: s.issuer, source: 'oidc', attributes: s.attributes };
    return policy.rolesOf(identity).map((r) => r.name);
  };

  const cookie = (c: Context, name: string, value: string, maxAgeSec: number): void => {
    setCookie(c, name, value, { path: '/', httpOnly: true, secure, sameSite: 'Lax', maxAge: Math.max(0, Math.floor(maxAgeSec)) });
  };

  const html = (c: Context, status: 200 | 400 | 401 | 403 | 404 | 409 | 410 | 502 | 503, body: (nonce: string) => string): Response => {
    const nonce = randomBytes(16).toString('base64');
    c.header('content-security-policy', `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'none'; connect-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`);
    c.header('cache-control', 'no-store');
    c.header('x-content-type-options', 'nosniff');
    c.header('x-frame-options', 'DENY');
    // Not no-referrer: under it a browser sends `Origin: null` on the inbox's own form posts, which the Origin check must refuse.
    c.header('referrer-policy', 'same-origin');
    c.header('cross-origin-opener-policy', 'same-origin');
    return c.html(body(nonce), status);
  };
  const message = (c: Context, status: 400 | 401 | 403 | 404 | 409 | 410 | 502 | 503, title: string, text: string, link = { href: `${basePath}/inbox`, label: 'Back to the inbox' }): Response =>
    html(c, status, (nonce) => renderMessage(title, text, link, nonce));

  const app = new Hono().basePath(basePath === '' ? '/' : basePath);

  app.get('/login', async (c) => {
    try {
      const started = await login.start(clock() + LOGIN_TTL_MS);
      const focus = c.req.query('id');
      const state = focus !== undefined && REQUEST_ID.test(focus) ? { ...started.login, focus } : started.login;
      cookie(c, names.login, seal(keys, 'login', state), LOGIN_TTL_MS / 1000);
      c.header('cache-control', 'no-store');
      return c.redirect(started.url, 303);
    } catch (err) {
      return message(c, 502, 'Sign-in is unavailable', err instanceof ApproverSignInError ? err.message : 'the OpenID provider could not be reached');
    }
  });

  app.get('/callback', async (c) => {
    const state = readLoginState(keys, getCookie(c, names.login), clock());
    deleteCookie(c, names.login, { path: '/', secure });
    const retry = { href: `${basePath}/login`, label: 'Sign in again' };
    if (state === undefined) return message(c, 400, 'Sign-in failed', 'the sign-in started too long ago or in another browser; start again', retry);
    // The provider's answer is checked against the URL we registered, never against the Host header.
    const current = new URL(redirectUri);
    current.search = new URL(c.req.url).search;
    try {
      const who = await login.finish(current, state);
      const session: InboxSession = { sid: randomBytes(16).toString('base64url'), ...who, expiresAt: clock() + sessionTtlMs };
      cookie(c, names.session, seal(keys, 'session', session), sessionTtlMs / 1000);
      c.header('cache-control', 'no-store');
      return c.redirect(`${basePath}/inbox${state.focus === undefined ? '' : `?id=${state.focus}`}`, 303);
    } catch (err) {
      return message(c, 400, 'Sign-in failed', err instanceof ApproverSignInError ? err.message : 'the provider response did not check out', retry);
    }
  });

  app.get('/inbox', async (c) => {
    const now = clock();
    const session = readSession(keys, getCookie(c, names.session), now);
    // A notification links to `inbox?id=<request>`: that request is listed first, across sign-in too.
    const focus = c.req.query('id');
    const focused = focus !== undefined && REQUEST_ID.test(focus) ? focus : undefined;
    if (session === undefined) return c.redirect(`${basePath}/login${focused === undefined ? '' : `?id=${focused}`}`, 303);
    let pending;
    try {
      pending = await withDeadline('the approvals store', storeTimeoutMs, () => store.listPending(now));
    } catch {
      return message(c, 503, 'The inbox is unavailable', 'the approvals store did not answer; try again shortly', { href: `${basePath}/inbox`, label: 'Reload' });
    }
    if (focused !== undefined) pending = [...pending.filter((r) => r.id === focused), ...pending.filter((r) => r.id !== focused)];
    const roles = rolesOf(session);
    const formExpiry = Math.min(session.expiresAt, now + FORM_TTL_MS);
    const requests: RenderedRequest[] = pending.map((request) => {
      if (!roles.includes(request.route)) return { request, cannot: `Only members of "${request.route}" may decide this request.` };
      if (request.agent === session.id) return { request, cannot: 'This request comes from your own agent identity; someone else must decide it.' };
      return { request, csrf: csrfToken(keys.csrf, session.sid, request.id, formExpiry) };
    });
    const done = c.req.query('done');
    const notice = done === 'approved' || done === 'denied' ? { kind: 'ok' as const, text: `The request was ${done}.` } : undefined;
    return html(c, 200, (nonce) =>
      renderInbox({ basePath, nonce, now, approver: { id: session.id, name: session.name, roles }, requests, ...(notice === undefined ? {} : { notice }) }),
    );
  });

  app.post('/inbox/:id/decision', async (c) => {
    const now = clock();
    // Cross-site first: a forged post learns nothing, not even whether a session exists.
    if (!sameOrigin(c.req.raw.headers, origin)) return message(c, 403, 'Refused', 'this form was not sent from the inbox page (cross-site request refused)');
    const session = readSession(keys, getCookie(c, names.session), now);
    if (session === undefined) return message(c, 401, 'Signed out', 'your session has ended; sign in again and decide from the inbox', { href: `${basePath}/login`, label: 'Sign in' });
    const id = c.req.param('id');
    if (!REQUEST_ID.test(id)) return message(c, 404, 'Unknown request', 'no approval request has this id');
    const type = c.req.header('content-type') ?? '';
    if (!type.startsWith('application/x-www-form-urlencoded')) return message(c, 400, 'Refused', 'the decision must be sent as a form');
    let form: URLSearchParams;
    try {
      const text = await c.req.text();
      if (text.length > 8192) return message(c, 400, 'Refused', 'the form is too large');
      form = new URLSearchParams(text);
    } catch {
      return message(c, 400, 'Refused', 'the form could not be read');
    }
    if (!checkCsrfToken(keys.csrf, form.get('csrf'), session.sid, id, now)) {
      return message(c, 403, 'Refused', 'the form is stale or was not issued to this session for this request; reload the inbox and decide again');
    }
    const choice = form.get('decision');
    if (choice !== 'approve' && choice !== 'deny') return message(c, 400, 'Refused', 'the decision must be "approve" or "deny"');
    const reason = form.get('reason') ?? '';
    let result;
    try {
      result = await withDeadline('the approvals store', storeTimeoutMs, () =>
        decide(store, {
          id,
          approverIdentity: session.id,
          approverRoles: rolesOf(session),
          outcome: choice === 'approve' ? 'approved' : 'denied',
          ...(reason.trim() === '' ? {} : { reason }),
          now,
        }),
      );
    } catch {
      return message(c, 503, 'Not recorded', 'the approvals store did not answer in time; reload the inbox to see whether the decision was recorded before deciding again');
    }
    if (!result.ok) {
      const status = result.code === 'approval_not_found' ? 404 : result.code === 'approval_expired' ? 410 : result.code === 'approval_already_decided' ? 409 : result.code === 'approval_invalid' ? 400 : 403;
      return html(c, status, (nonce) => renderMessage('Not recorded', `${result.reason} (${result.code})`, { href: `${basePath}/inbox`, label: 'Back to the inbox' }, nonce));
    }
    return c.redirect(`${basePath}/inbox?done=${result.decision.outcome}`, 303);
  });

  return { app, fetch: (request) => Promise.resolve(app.fetch(request)), redirectUri };
}
