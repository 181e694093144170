/**
 * The approvals service: guards submit high-risk calls and long-poll for the answer; people
 * decide from an inbox or through the decision API. Guards and approvers are authenticated
 * with their identity tokens; a guard reads only the decisions of its own requests.
 */
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import { intentSchema } from '../../capability/claims.js';
import type { AgentIdentity, IdentityVerifier } from '../../identity/types.js';
import { compileGlob } from '../../policy/match.js';
import { RISK_TIERS, type RiskTier } from '../../policy/types.js';
import { parseOptions } from '../../util/options.js';
import { systemClock, type Clock } from '../../util/time.js';
import { describeIssues } from '../../util/zod-issues.js';
import { compileGrantPolicy, type GrantPolicy } from '../authority/grant-policy.js';
import { DeadlineError, withDeadline } from '../authority/deadline.js';
import { OAuthError, badRequest, oauthErrorResponse } from '../authority/oauth-error.js';
import { bearerToken, readJson } from '../authority/request.js';
import { decide } from './decide.js';
import type { ApprovalRecord, ApprovalsStore } from './store.js';
import { deliverWebhook, type ApprovalWebhook, type WebhookDelivery } from './webhooks.js';

export interface ApprovalsServerOptions {
  store: ApprovalsStore;
  /** Verifies the guards' workload identity tokens (JWT-SVID or OIDC). */
  identity: IdentityVerifier;
  /** Verifies approvers' identity tokens on the decision API; default `identity`. */
  approverIdentity?: IdentityVerifier;
  /** The grant policy whose roles are the approver groups: an approver's roles are the roles matching their identity. */
  grantPolicy: GrantPolicy;
  /** Tool name or glob → the role that approves it; the first match in the order written wins. */
  routes?: Record<string, string>;
  /** The role that approves tools no route names. */
  defaultRoute: string;
  /** Public base URL of this service (for links in notifications), e.g. `https://approvals.example.com`. */
  publicUrl: string;
  /** Where the routes live; default `/approvals`. */
  basePath?: string;
  /** Webhooks per route name. */
  webhooks?: Record<string, ApprovalWebhook[]>;
  webhookDelivery?: WebhookDelivery;
  /** Longest wait a guard may ask for, ms; default 900,000 (15 minutes). */
  maxTimeoutMs?: number;
  /** Largest request body, bytes; default 16,384. */
  maxBodyBytes?: number;
  /** Undecided requests one submitting identity may hold at once; default 50. */
  maxPendingPerAgent?: number;
  /** Deadline of identity verification, ms; default 5,000. */
  identityTimeoutMs?: number;
  /** Deadline of each store call, ms; default 2,000. */
  storeTimeoutMs?: number;
  clock?: Clock;
  /** Told about failed webhook deliveries and store errors; never given a token. */
  onError?: (err: unknown) => void;
}

export interface ApprovalsServer {
  fetch(request: Request): Promise<Response>;
  readonly app: Hono;
  /** Resolves when every webhook delivery started so far has finished (for tests and shutdown). */
  idle(): Promise<void>;
}

/** Longest long-poll, ms. */
export const MAX_WAIT_MS = 30_000;

const fn = <T>(what: string) => z.custom<T>((v) => typeof v === 'function', { message: `must be ${what}` });
const verifier = z.custom<IdentityVerifier>((v) => typeof v === 'object' && v !== null && typeof (v as IdentityVerifier).verify === 'function', { message: 'must be an IdentityVerifier' });
const roleName = z.string().min(1).max(128);
const webhookSchema = z.strictObject({
  url: z.string().url(),
  secret: z.string().min(32).max(1024),
  format: z.enum(['json', 'slack']).optional(),
});
const optionsSchema = z.strictObject({
  store: z.custom<ApprovalsStore>(
    (s) => typeof s === 'object' && s !== null && ['put', 'get', 'listPending', 'decide', 'waitFor'].every((m) => typeof (s as Record<string, unknown>)[m] === 'function'),
    { message: 'must be an ApprovalsStore' },
  ),
  identity: verifier,
  approverIdentity: verifier.optional(),
  grantPolicy: z.custom<GrantPolicy>((p) => typeof p === 'object' && p !== null, { message: 'must be a grant policy object' }),
  routes: z.record(z.string().min(1).max(256), roleName).optional(),
  defaultRoute: roleName,
  publicUrl: z.string().url(),
  basePath: z.string().regex(/^(\/[A-Za-z0-9._-]+)*$/, { message: 'a path such as "/approvals" (or "" for the root)' }).optional(),
  webhooks: z.record(roleName, z.array(webhookSchema).max(10)).optional(),
  webhookDelivery: z
    .strictObject({
      attempts: z.number().int().min(1).max(10).optional(),
      attemptTimeoutMs: z.number().int().min(100).max(60_000).optional(),
      backoffMs: z.number().int().min(1).max(60_000).optional(),
    })
    .optional(),
  maxTimeoutMs: z.number().int().min(1_000).max(24 * 3_600_000).optional(),
  maxBodyBytes: z.number().int().min(1024).max(1024 * 1024).optional(),
  maxPendingPerAgent: z.number().int().min(1).max(10_000).optional(),
  identityTimeoutMs: z.number().int().min(1).max(60_000).optional(),
  storeTimeoutMs: z.number().int().min(1).max(60_000).optional(),
  clock: fn<Clock>('a function returning ms since epoch').optional(),
  onError: fn<(err: unknown) => void>('a function').optional(),
});

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const checkUrl = (value: string, option: string): void => {
  const u = new URL(value);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) {
    throw new TypeError(`createApprovalsServer ${option} must be https (http only on loopback)`);
  }
};

const previewValue = z.string().max(1024);
/** What a guard submits (the remote approver's body). Strict: an unknown field is refused, not ignored. */
const submissionSchema = z.strictObject({
  intent: intentSchema,
  tool: z.string().min(1).max(256),
  risk: z.enum(RISK_TIERS as [RiskTier, ...RiskTier[]]),
  argsPreview: z.record(z.string().max(256), previewValue).refine((r) => Object.keys(r).length <= 64, { message: 'at most 64 preview fields' }),
  argsHash: z.string().regex(/^[A-Za-z0-9_-]{43}$/, { message: 'a base64url SHA-256' }),
  capabilityId: z.string().min(1).max(256),
  callId: z.string().min(1).max(256),
  why: z.string().max(1000),
  policyIds: z.array(z.string().max(256)).max(32),
  timeoutMs: z.number().int().min(1),
});

const decisionSchema = z.strictObject({
  decision: z.enum(['approve', 'deny']),
  reason: z.string().max(2000).optional(),
});

const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });

const newId = (): string => randomBytes(16).toString('base64url');

export function createApprovalsServer(options: ApprovalsServerOptions): ApprovalsServer {
  const o = parseOptions(optionsSchema, options, 'createApprovalsServer');
  checkUrl(o.publicUrl, 'publicUrl');
  for (const hooks of Object.values(o.webhooks ?? {})) for (const h of hooks) checkUrl(h.url, 'webhooks[].url');
  const policy = compileGrantPolicy(o.grantPolicy);
  const roleNames = new Set(o.grantPolicy.roles.map((r) => r.name));
  for (const route of [o.defaultRoute, ...Object.values(o.routes ?? {}), ...Object.keys(o.webhooks ?? {})]) {
    if (!roleNames.has(route)) throw new TypeError(`createApprovalsServer: the route "${route}" is not a role of the grant policy`);
  }
  const routes = Object.entries(o.routes ?? {}).map(([pattern, role]) => ({ test: pattern.includes('*') ? compileGlob(pattern) : (t: string) => t === pattern, role }));
  const routeOf = (tool: string): string => routes.find((r) => r.test(tool))?.role ?? o.defaultRoute;
  const webhooks = new Map(Object.entries(o.webhooks ?? {}));
  const store = o.store;
  const clock = o.clock ?? systemClock;
  const base = o.basePath ?? '/approvals';
  const maxTimeoutMs = o.maxTimeoutMs ?? 900_000;
  const maxBody = o.maxBodyBytes ?? 16_384;
  const maxPending = o.maxPendingPerAgent ?? 50;
  const identityTimeoutMs = o.identityTimeoutMs ?? 5_000;
  const storeTimeoutMs = o.storeTimeoutMs ?? 2_000;
  const delivery = {
    attempts: o.webhookDelivery?.attempts ?? 4,
    attemptTimeoutMs: o.webhookDelivery?.attemptTimeoutMs ?? 5_000,
    backoffMs: o.webhookDelivery?.backoffMs ?? 500,
  };
  const report = (err: unknown): void => {
    try {
      o.onError?.(err);
    } catch {
      // A failing hook must not fail a request.
    }
  };
  const deliveries = new Set<Promise<unknown>>();
  const publicBase = o.publicUrl.replace(/\/+$/, '');

  const unavailable = (err: unknown): OAuthError => {
    report(err);
    return new OAuthError(503, 'temporarily_unavailable', 'the approvals store did not answer; try again');
  };
  const stored = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await withDeadline('the approvals store', storeTimeoutMs, run);
    } catch (err) {
      throw unavailable(err);
    }
  };

  async function authenticate(request: Request, verify: IdentityVerifier): Promise<AgentIdentity> {
    const challenge = { 'WWW-Authenticate': 'Bearer error="invalid_token"' };
    let token: string | undefined;
    try {
      token = bearerToken(request);
    } catch {
      token = undefined;
    }
    if (token === undefined) throw new OAuthError(401, 'invalid_token', 'send a workload identity token as "Authorization: Bearer <token>"', challenge);
    const controller = new AbortController();
    try {
      return await withDeadline('the identity verifier', identityTimeoutMs, () => verify.verify(token, { signal: controller.signal }));
    } catch (err) {
      controller.abort();
      if (err instanceof DeadlineError) throw new OAuthError(503, 'temporarily_unavailable', 'the identity token could not be verified in time; try again');
      // The verifier's message may describe the token; only the failure class goes back.
      throw new OAuthError(401, 'invalid_token', 'the identity token was not accepted', challenge);
    }
  }

  async function submit(request: Request): Promise<Response> {
    const agent = await authenticate(request, o.identity);
    const parsed = submissionSchema.safeParse(await readJson(request, maxBody));
    if (!parsed.success) throw badRequest('invalid_request', describeIssues(parsed.error, 'approval request'));
    const s = parsed.data;
    const now = clock();
    const mine = (await stored(() => store.listPending(now))).filter((r) => r.agent === agent.id).length;
    if (mine >= maxPending) throw new OAuthError(429, 'slow_down', `this identity already has ${mine} undecided requests; wait for them to be decided or expire`);
    const record: ApprovalRecord = {
      id: newId(),
      agent: agent.id,
      intent: { id: s.intent.id, purpose: s.intent.purpose },
      tool: s.tool,
      risk: s.risk,
      argsPreview: Object.assign(Object.create(null) as Record<string, string>, s.argsPreview),
      argsHash: s.argsHash,
      capabilityId: s.capabilityId,
      callId: s.callId,
      why: s.why,
      policyIds: s.policyIds,
      deadline: now + Math.min(s.timeoutMs, maxTimeoutMs),
      route: routeOf(s.tool),
      createdAt: now,
    };
    await stored(() => store.put(record));
    notify(record);
    return json({ id: record.id, deadline: record.deadline, route: record.route }, 201);
  }

  function notify(record: ApprovalRecord): void {
    const link = `${publicBase}${base}/inbox?id=${encodeURIComponent(record.id)}`;
    for (const hook of webhooks.get(record.route) ?? []) {
      const p = deliverWebhook(hook, record, link, delivery, clock, report).finally(() => deliveries.delete(p));
      deliveries.add(p);
    }
  }

  async function status(request: Request, id: string, waitParam: string | undefined): Promise<Response> {
    const agent = await authenticate(request, o.identity);
    let wait = 0;
    if (waitParam !== undefined) {
      if (!/^\d{1,9}$/.test(waitParam)) throw badRequest('invalid_request', 'wait must be a whole number of milliseconds');
      wait = Math.min(Number(waitParam), MAX_WAIT_MS);
    }
    const first = await stored(() => store.get(id));
    // Another identity's request answers exactly as an unknown one: its existence is not revealed.
    if (first === undefined || first.request.agent !== agent.id) throw new OAuthError(404, 'not_found', 'no approval request of this identity has this id');
    let current = first;
    if (current.decision === undefined && wait > 0) {
      const until = Math.min(clock() + wait, current.request.deadline);
      try {
        current = (await store.waitFor(id, until, request.signal)) ?? current;
      } catch (err) {
        throw unavailable(err);
      }
    }
    const d = current.decision;
    const r = current.request;
    const binding = { tool: r.tool, argsHash: r.argsHash, capabilityId: r.capabilityId };
    if (d !== undefined) {
      return json({ status: d.outcome, approver: d.approver, ...(d.reason === undefined ? {} : { reason: d.reason }), binding });
    }
    return json({ status: clock() > r.deadline ? 'expired' : 'pending', deadline: r.deadline });
  }

  async function decideByApi(request: Request, id: string): Promise<Response> {
    const who = await authenticate(request, o.approverIdentity ?? o.identity);
    const parsed = decisionSchema.safeParse(await readJson(request, maxBody));
    if (!parsed.success) throw badRequest('invalid_request', describeIssues(parsed.error, 'decision'));
    let result;
    try {
      result = await withDeadline('the approvals store', storeTimeoutMs * 2, () =>
        decide(store, {
          id,
          approverIdentity: who.id,
          approverRoles: policy.rolesOf(who).map((r) => r.name),
          outcome: parsed.data.decision === 'approve' ? 'approved' : 'denied',
          ...(parsed.data.reason === undefined ? {} : { reason: parsed.data.reason }),
          now: clock(),
        }),
      );
    } catch (err) {
      throw unavailable(err);
    }
    if (result.ok) return json({ status: result.decision.outcome, approver: result.decision.approver }, 200);
    const status = { approval_not_found: 404, approval_invalid: 400, approver_not_in_route: 403, approval_self: 403, approval_expired: 409, approval_already_decided: 409 }[result.code];
    return json({ error: result.code, error_description: result.reason }, status);
  }

  const guarded = async (run: () => Promise<Response>): Promise<Response> => {
    try {
      return await run();
    } catch (err) {
      return oauthErrorResponse(err instanceof OAuthError ? err : new OAuthError(500, 'server_error', 'the approvals service failed to handle the request', {}, { cause: err }));
    }
  };

  const app = new Hono();
  app.post(`${base}/requests`, (c) => guarded(() => submit(c.req.raw)));
  app.get(`${base}/requests/:id/decision`, (c) => guarded(() => status(c.req.raw, c.req.param('id'), c.req.query('wait'))));
  app.post(`${base}/requests/:id/decision`, (c) => guarded(() => decideByApi(c.req.raw, c.req.param('id'))));

  return {
    app,
    fetch: async (request) => app.fetch(request),
    idle: async () => {
      while (deliveries.size > 0) await Promise.allSettled([...deliveries]);
    },
  };
}
