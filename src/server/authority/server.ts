/**
 * The authority as a service: RFC 8414 metadata, the JWKS, RFC 8693 token exchange with RFC 9396
 * authorization details and RFC 9449 DPoP binding, RFC 7009 revocation and an admin API for
 * emergency stops. The agent holds its workload identity and its own key; the signing key and
 * the grant policy stay here.
 */
import { SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { Hono } from 'hono';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import type { Authority } from '../../capability/authority.js';
import { intentSchema, toolGrantSchema, toolNameSchema, type CapabilityClaims, type ToolGrant } from '../../capability/claims.js';
import { createChainVerifier, decodeChain } from '../../capability/delegation-chain.js';
import { SignerError } from '../../capability/signer.js';
import { createCapabilityVerifier, type CapabilityVerifier, type VerifiedCapability } from '../../capability/verify.js';
import { CapabilityError } from '../../errors.js';
import { revocationChecks } from '../../guard/reservation.js';
import { IdentityError } from '../../identity/errors.js';
import type { AgentIdentity, IdentityVerifier } from '../../identity/types.js';
import { createRevoker } from '../../store/revocation.js';
import type { TesseraStore } from '../../store/types.js';
import { COMPACT_JWS } from '../../jose/compact-jws.js';
import { parseOptions } from '../../util/options.js';
import { durationSeconds, systemClock, type Clock, type Duration } from '../../util/time.js';
import { describeIssues } from '../../util/zod-issues.js';
import { DeadlineError, withDeadline } from './deadline.js';
import { DPOP_ALGORITHMS, verifyDpopProof } from './dpop.js';
import { createIdentityCache } from './identity-cache.js';
import { compileGrantPolicy, type CompiledRole, type GrantPolicy } from './grant-policy.js';
import { OAuthError, badRequest, oauthErrorResponse, unavailable } from './oauth-error.js';
import { createRateLimiter, type RateLimitOptions } from './rate-limit.js';
import { bearerToken, readForm, readJson } from './request.js';

export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';

/** Attributes of the `tessera.grant` span. */
export const GRANT_SPAN = 'tessera.grant';
export const GRANT_ATTR = {
  AGENT: 'gen_ai.agent.id',
  INTENT_ID: 'tessera.intent.id',
  TOOLS: 'tessera.grant.tools',
  OUTCOME: 'tessera.grant.outcome',
  OAUTH_ERROR: 'tessera.grant.oauth_error',
  REASON: 'tessera.grant.reason',
  ROLE: 'tessera.grant.role',
  DELEGATED: 'tessera.grant.delegated',
  BOUND: 'tessera.grant.dpop_bound',
} as const;

export interface AuthorityServerOptions {
  /** The authority that signs (see `createAuthority`); its `issuer` is the server's URL. */
  authority: Authority;
  /** Verifies subject tokens and admin bearer tokens: `createJwtSvidVerifier`, `createOidcVerifier` or `createIdentityRouter`. */
  identity: IdentityVerifier;
  grantPolicy: GrantPolicy;
  /** The store the guards share: DPoP `jti`s, revocations. */
  store: TesseraStore;
  clock?: Clock;
  tracer?: Tracer;
  /** Per-agent token bucket on POST /token; default 20 at once, 60 a minute. */
  rateLimit?: RateLimitOptions;
  /** Largest request body, bytes; default 65536. Larger bodies are refused with 413. */
  maxBodyBytes?: number;
  /** Lifetime of a grant that asks for none: at most this, and never above its role's maxTtl; default `"5m"`. */
  defaultTtl?: Duration;
  /** How far a DPoP proof's `iat` may lie from the authority's clock, seconds; default 60. */
  dpopWindowSec?: number;
  /** Deadline of identity verification, ms; default 5000. */
  identityTimeoutMs?: number;
  /** Deadline of each store call, ms; default 2000. */
  storeTimeoutMs?: number;
  /** Deadline of signing one capability (the signer and the revocation lookup), ms; default 10000. */
  grantTimeoutMs?: number;
  /** Longest `max-age` of the JWKS; default 300. Never more than the rotation overlap (the authority's maxTtl). */
  jwksMaxAgeSec?: number;
  /**
   * Longest time, seconds, the identity proven by a subject or bearer token is reused for the same
   * token without verifying it again; never past the token's `exp`. Default 300, 0 verifies every
   * request. A key withdrawn from a trust bundle is noticed by the verifier's refresh; this keeps
   * a token verified before the withdrawal usable at most this long.
   */
  identityCacheSec?: number;
  /** Most tokens whose identity is kept (see `identityCacheSec`); default 10000. */
  identityCacheSize?: number;
}

export interface AuthorityServer {
  /** The Web-standard handler: mount it in any server that speaks Request/Response. */
  fetch(request: Request): Promise<Response>;
  readonly app: Hono;
  /** The RFC 8414 metadata document this server publishes. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

const optionsSchema = z.strictObject({
  authority: z.custom<Authority>((a) => typeof a === 'object' && a !== null && typeof (a as Authority).grant === 'function', { message: 'must be an Authority (createAuthority)' }),
  identity: z.custom<IdentityVerifier>((v) => typeof v === 'object' && v !== null && typeof (v as IdentityVerifier).verify === 'function', { message: 'must be an IdentityVerifier' }),
  grantPolicy: z.custom<GrantPolicy>((p) => typeof p === 'object' && p !== null, { message: 'must be a grant policy object' }),
  store: z.custom<TesseraStore>((s) => typeof s === 'object' && s !== null && typeof (s as TesseraStore).consumeOnce === 'function' && typeof (s as TesseraStore).revoke === 'function', { message: 'must be a TesseraStore' }),
  clock: z.custom<Clock>((c) => typeof c === 'function', { message: 'must be a function' }).optional(),
  tracer: z.custom<Tracer>((t) => typeof t === 'object' && t !== null, { message: 'must be a Tracer' }).optional(),
  rateLimit: z.strictObject({ burst: z.number().optional(), perMinute: z.number().optional() }).optional(),
  maxBodyBytes: z.number().int().min(1024).max(16 * 1024 * 1024).optional(),
  defaultTtl: z.union([z.number(), z.string()]).optional(),
  dpopWindowSec: z.number().int().min(1).max(300).optional(),
  identityTimeoutMs: z.number().int().min(1).max(60_000).optional(),
  storeTimeoutMs: z.number().int().min(1).max(60_000).optional(),
  grantTimeoutMs: z.number().int().min(1).max(120_000).optional(),
  jwksMaxAgeSec: z.number().int().min(0).max(86_400).optional(),
  identityCacheSec: z.number().int().min(0).max(3600).optional(),
  identityCacheSize: z.number().int().min(1).max(1_000_000).optional(),
});

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The issuer is the server's base URL: https (http only on loopback), no path, query or fragment. */
function checkIssuer(issuer: string): void {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new TypeError('authority.issuer must be a URL for an authority server, e.g. "https://authz.example.com"');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new TypeError('authority.issuer must use https (plain http only on 127.0.0.1, localhost or [::1])');
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || issuer.endsWith('/')) {
    throw new TypeError('authority.issuer must be an origin with no path, query, fragment or trailing slash, e.g. "https://authz.example.com"');
  }
}

const intentDetail = z.strictObject({
  type: z.literal('tessera_intent'),
  id: intentSchema.shape.id,
  purpose: intentSchema.shape.purpose,
});
const toolDetail = z.strictObject({
  type: z.literal('tessera_tool'),
  tool: toolNameSchema,
  args: z.unknown().optional(),
  maxCalls: z.unknown().optional(),
  retrieval: z.unknown().optional(),
});

interface RequestedGrant {
  intent: { id: string; purpose: string };
  tools: Record<string, ToolGrant>;
}

const invalidDetails = (why: string): OAuthError => badRequest('invalid_authorization_details', why);

/** RFC 9396 authorization details: exactly one tessera_intent, one or more tessera_tool, no duplicates. */
export function parseAuthorizationDetails(raw: string | undefined): RequestedGrant {
  if (raw === undefined) throw invalidDetails('authorization_details is required: one tessera_intent and at least one tessera_tool');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidDetails('authorization_details is not valid JSON');
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > 101) {
    throw invalidDetails('authorization_details must be a JSON array of 2 to 101 entries');
  }
  let intent: RequestedGrant['intent'] | undefined;
  const tools: Record<string, ToolGrant> = Object.create(null) as Record<string, ToolGrant>;
  for (const [i, entry] of parsed.entries()) {
    const type = typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? (entry as { type?: unknown }).type : undefined;
    if (type === 'tessera_intent') {
      const r = intentDetail.safeParse(entry);
      if (!r.success) throw invalidDetails(describeIssues(r.error, `authorization_details[${i}]`));
      if (intent !== undefined) throw invalidDetails('authorization_details holds more than one tessera_intent');
      intent = { id: r.data.id, purpose: r.data.purpose };
    } else if (type === 'tessera_tool') {
      const r = toolDetail.safeParse(entry);
      if (!r.success) throw invalidDetails(describeIssues(r.error, `authorization_details[${i}]`));
      const { tool, args, maxCalls, retrieval } = r.data;
      if (Object.hasOwn(tools, tool)) throw invalidDetails(`authorization_details names the tool "${tool}" more than once`);
      const g = toolGrantSchema.safeParse({
        ...(args === undefined ? {} : { args }),
        ...(maxCalls === undefined ? {} : { maxCalls }),
        ...(retrieval === undefined ? {} : { retrieval }),
      });
      if (!g.success) throw invalidDetails(describeIssues(g.error, `authorization_details[${i}]`));
      tools[tool] = g.data;
    } else {
      throw invalidDetails(`authorization_details[${i}] has an unknown type; use "tessera_intent" or "tessera_tool"`);
    }
  }
  if (intent === undefined) throw invalidDetails('authorization_details needs exactly one tessera_intent');
  if (Object.keys(tools).length === 0) throw invalidDetails('authorization_details needs at least one tessera_tool');
  return { intent, tools: { ...tools } };
}

/** The granted details, in the request's shape. */
function grantedDetails(intent: RequestedGrant['intent'], tools: Record<string, ToolGrant>): unknown[] {
  return [
    { type: 'tessera_intent', id: intent.id, purpose: intent.purpose },
    ...Object.entries(tools).map(([tool, g]) => ({
      type: 'tessera_tool',
      tool,
      ...(g.args === undefined ? {} : { args: g.args }),
      ...(g.maxCalls === undefined ? {} : { maxCalls: g.maxCalls }),
      ...(g.retrieval === undefined ? {} : { retrieval: g.retrieval }),
    })),
  ];
}

function parseTtl(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(raw)) throw badRequest('invalid_request', 'requested_ttl must be a positive whole number of seconds');
  return Number(raw);
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

interface AdminRevocation {
  kind: 'agent' | 'intent' | 'capability';
  id: string;
  reason: string | undefined;
  revokedAt: string;
  revokedBy: string;
}

const adminRevocationSchema = z.strictObject({
  kind: z.enum(['agent', 'intent', 'capability']),
  id: z.string().min(1).max(2048),
  reason: z.string().min(1).max(500).optional(),
});

/** Builds the authority server. Options are checked here; a bad one throws a TypeError or RangeError naming it. */
export function createAuthorityServer(options: AuthorityServerOptions): AuthorityServer {
  const o = parseOptions(optionsSchema, options, 'createAuthorityServer');
  const authority = options.authority;
  const identity = options.identity;
  const store = options.store;
  checkIssuer(authority.issuer);
  const policy = compileGrantPolicy(options.grantPolicy);
  if (policy.longestTtlSec > authority.maxTtlSec) {
    throw new RangeError(`grantPolicy: a role's maxTtl (${policy.longestTtlSec}s) exceeds the authority's maxTtl (${authority.maxTtlSec}s)`);
  }
  const clock = options.clock ?? systemClock;
  const tracer = options.tracer ?? trace.getTracer('tessera', '0.1.0');
  const limiter = createRateLimiter(options.rateLimit ?? {}, clock);
  const maxBody = o.maxBodyBytes ?? 64 * 1024;
  const defaultTtl = durationSeconds((options.defaultTtl ?? '5m') as Duration, 'defaultTtl');
  const dpopWindowSec = o.dpopWindowSec ?? 60;
  const identityTimeoutMs = o.identityTimeoutMs ?? 5000;
  const storeTimeoutMs = o.storeTimeoutMs ?? 2000;
  const grantTimeoutMs = o.grantTimeoutMs ?? 10_000;
  // A cached key set must be refetched before a retired key leaves it: never cache past the overlap.
  const jwksMaxAge = Math.min(o.jwksMaxAgeSec ?? 300, authority.maxTtlSec);
  const revoker = createRevoker(store, clock, { keepMs: (authority.maxTtlSec + 300 + 60) * 1000 });

  const issuer = authority.issuer;
  const endpoints = { token: `${issuer}/token`, jwks: `${issuer}/jwks.json`, revoke: `${issuer}/revoke` };
  const metadata = Object.freeze({
    issuer,
    token_endpoint: endpoints.token,
    jwks_uri: endpoints.jwks,
    revocation_endpoint: endpoints.revoke,
    grant_types_supported: [GRANT_TYPE_TOKEN_EXCHANGE],
    authorization_details_types_supported: ['tessera_tool', 'tessera_intent'],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    token_endpoint_auth_methods_supported: ['none'],
  });

  // Emergency stops of agents and intents also stop new grants until lifted: otherwise a stopped
  // agent would simply ask for a fresh capability. Kept by this process, listed by GET.
  const revocations = new Map<string, AdminRevocation>();
  const blocked = (kind: 'agent' | 'intent', id: string): boolean => revocations.has(`${kind}\n${id}`);

  const identities = createIdentityCache({ clock, maxAgeMs: (o.identityCacheSec ?? 300) * 1000, size: o.identityCacheSize ?? 10_000 });
  const verifyIdentity = async (token: string, what: string): Promise<AgentIdentity> => {
    if (token.length === 0 || token.length > 16 * 1024 || !COMPACT_JWS.test(token)) {
      throw badRequest('invalid_request', `the ${what} is not a compact JWT`);
    }
    const cached = identities.get(token);
    if (cached !== undefined) return cached;
    try {
      const who = await withDeadline('the identity verifier', identityTimeoutMs, () => identity.verify(token));
      identities.set(token, who);
      return who;
    } catch (err) {
      if (err instanceof IdentityError && err.code !== 'identity_unavailable') throw badRequest('invalid_request', `the ${what} is not acceptable: ${err.reason}`);
      throw unavailable(`the ${what} could not be verified now (identity provider unreachable or too slow); try again`, err);
    }
  };

  const dpop = (request: Request, htu: string): Promise<string> | undefined => {
    const header = request.headers.get('dpop');
    if (header === null) return undefined;
    // Headers.get joins repeated headers with ", ": a compact JWS holds no comma.
    if (header.includes(',')) throw badRequest('invalid_dpop_proof', 'send exactly one DPoP header');
    return verifyDpopProof(header.trim(), { htm: 'POST', htu, clock, windowSec: dpopWindowSec, store, storeTimeoutMs });
  };

  const verifiers = new Map<string, CapabilityVerifier>();
  const verifyChain = createChainVerifier({ maxDepth: 16 });
  const verifyOwnCapability = async (token: string): Promise<VerifiedCapability | undefined> => {
    let audience: unknown;
    try {
      audience = decodeChain(token, 16)[0]!.payload.aud;
    } catch {
      return undefined;
    }
    const aud = typeof audience === 'string' ? audience : Array.isArray(audience) && typeof audience[0] === 'string' ? audience[0] : undefined;
    if (aud === undefined || aud.length > 512) return undefined;
    let v = verifiers.get(aud);
    if (v === undefined) {
      v = createCapabilityVerifier({
        audience: aud,
        trust: [{ issuer, jwks: () => authority.jwks() }],
        clock,
        clockSkewSec: 0,
        maxLifetimeSec: authority.maxTtlSec,
        maxTokenBytes: 64 * 1024,
        verifyChain,
      }).verify;
      if (verifiers.size >= 100) verifiers.clear();
      verifiers.set(aud, v);
    }
    try {
      return await v(token);
    } catch {
      return undefined;
    }
  };

  const sign = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await withDeadline('the signer', grantTimeoutMs, run);
    } catch (err) {
      if (err instanceof DeadlineError || err instanceof SignerError) throw unavailable('the authority could not sign the capability now; try again', err);
      throw err;
    }
  };

  /** The first role that allows the request; otherwise the refusal of the first role. */
  const chooseRole = (roles: CompiledRole[], check: (role: CompiledRole) => OAuthError | undefined): CompiledRole => {
    let first: OAuthError | undefined;
    for (const role of roles) {
      const refusal = check(role);
      if (refusal === undefined) return role;
      first ??= refusal;
    }
    throw first!;
  };

  const ceilingCheck = (role: CompiledRole, ttl: number | undefined, tools: Record<string, ToolGrant>, link: number): OAuthError | undefined => {
    if (link > role.maxDelegationDepth) {
      return badRequest('invalid_request', `the role "${role.name}" may receive capabilities at most ${role.maxDelegationDepth} delegations below a root grant; this would be link ${link}`);
    }
    if (ttl !== undefined && ttl > role.maxTtlSec) {
      return badRequest('invalid_request', `requested_ttl ${ttl}s exceeds the ceiling of ${role.maxTtlSec}s of the role "${role.name}"; ask for at most ${role.maxTtlSec}`);
    }
    const outside = role.outsideCeiling(tools);
    if (outside !== undefined) return invalidDetails(outside);
    const approval = role.approvalRequired(Object.keys(tools));
    if (approval.length > 0) {
      return new OAuthError(403, 'access_denied', `the role "${role.name}" needs a human's approval at grant time for ${approval.map((t) => `"${t}"`).join(', ')}, which this authority cannot ask for yet; request it without those tools`);
    }
    return undefined;
  };

  async function exchange(request: Request, span: Span): Promise<Response> {
    const form = await readForm(request, maxBody);
    const grantType = form.get('grant_type');
    if (grantType === undefined) throw badRequest('invalid_request', 'grant_type is required');
    if (grantType !== GRANT_TYPE_TOKEN_EXCHANGE) throw badRequest('unsupported_grant_type', `the only grant_type is ${GRANT_TYPE_TOKEN_EXCHANGE}`);
    const subjectToken = form.get('subject_token');
    const subjectType = form.get('subject_token_type');
    if (subjectToken === undefined || subjectType === undefined) throw badRequest('invalid_request', 'subject_token and subject_token_type are required');
    if (subjectType !== TOKEN_TYPE_JWT && subjectType !== TOKEN_TYPE_ACCESS_TOKEN && subjectType !== TOKEN_TYPE_ID_TOKEN) {
      throw badRequest('invalid_request', `subject_token_type must be ${TOKEN_TYPE_JWT}, ${TOKEN_TYPE_ACCESS_TOKEN} or ${TOKEN_TYPE_ID_TOKEN}`);
    }
    const audience = form.get('audience');
    if (audience === undefined || audience.length === 0 || audience.length > 512) {
      throw badRequest('invalid_request', 'audience is required: the guard deployment that will enforce the capability');
    }
    const actorToken = form.get('actor_token');
    const actorType = form.get('actor_token_type');
    if ((actorToken === undefined) !== (actorType === undefined)) throw badRequest('invalid_request', 'actor_token and actor_token_type go together');
    if (actorType !== undefined && actorType !== TOKEN_TYPE_JWT) throw badRequest('invalid_request', `actor_token_type must be ${TOKEN_TYPE_JWT} (a parent capability)`);
    const requested = parseAuthorizationDetails(form.get('authorization_details'));
    span.setAttributes({ [GRANT_ATTR.INTENT_ID]: requested.intent.id, [GRANT_ATTR.TOOLS]: Object.keys(requested.tools), [GRANT_ATTR.DELEGATED]: actorToken !== undefined });
    const ttl = parseTtl(form.get('requested_ttl'));

    const agent = await verifyIdentity(subjectToken, 'subject_token');
    if (agent.source !== 'oidc' && subjectType !== TOKEN_TYPE_JWT) {
      throw badRequest('invalid_request', `a JWT-SVID subject_token has the type ${TOKEN_TYPE_JWT}`);
    }
    span.setAttribute(GRANT_ATTR.AGENT, agent.id);
    const wait = limiter.take(agent.id);
    if (wait > 0) throw new OAuthError(429, 'slow_down', `too many requests from this agent; retry after ${wait}s`, { 'Retry-After': String(wait) });
    if (blocked('agent', agent.id)) throw new OAuthError(403, 'access_denied', 'this agent is stopped by an administrator; no capability is granted to it until the stop is lifted');
    if (blocked('intent', requested.intent.id)) throw new OAuthError(403, 'access_denied', 'this intent is stopped by an administrator; no capability is granted for it until the stop is lifted');
    const roles = policy.rolesOf(agent);
    if (roles.length === 0) throw new OAuthError(403, 'access_denied', "no role of the authority's grant policy matches this agent's identity");

    let capability: string;
    let role: CompiledRole;
    let jkt: string | undefined;
    // A root grant's lifetime is the one asked for; a child's is read back from the token.
    let lifetime: number | undefined;
    if (actorToken === undefined) {
      jkt = await dpop(request, endpoints.token);
      role = chooseRole(roles, (r) => ceilingCheck(r, ttl, requested.tools, 0));
      lifetime = ttl ?? Math.min(defaultTtl, role.maxTtlSec);
      const grantTtl = lifetime;
      try {
        capability = await sign(() =>
          authority.grant({
            agent: agent.id,
            audience,
            intent: requested.intent,
            tools: requested.tools,
            ttl: grantTtl,
            ...(jkt === undefined ? {} : { confirmation: { jkt } }),
          }),
        );
      } catch (err) {
        // The grant's own checks (lengths, the authority's maxTtl) answer like the ones above.
        if (err instanceof CapabilityError) throw badRequest('invalid_request', err.reason);
        throw err;
      }
    } else {
      let parent: CapabilityClaims;
      let link: number;
      try {
        const chain = decodeChain(actorToken, 16);
        parent = chain[chain.length - 1]!.payload as unknown as CapabilityClaims;
        link = chain.length;
      } catch {
        throw badRequest('invalid_request', 'the actor_token is not a capability of this authority');
      }
      const parentJkt = typeof parent.cnf === 'object' && parent.cnf !== null ? parent.cnf.jkt : undefined;
      jkt = await dpop(request, endpoints.token);
      if (parentJkt !== undefined && jkt !== parentJkt) {
        throw badRequest('invalid_request', 'the parent capability is bound to a key (cnf): send a DPoP proof signed by that key');
      }
      // The guards would refuse a child of a revoked parent; the authority does not mint one.
      const verifiedParent = await verifyOwnCapability(actorToken);
      if (verifiedParent === undefined) throw badRequest('invalid_request', 'the actor_token is not a valid, unexpired capability of this authority');
      // A reservation with nothing but revocation checks writes nothing: `reserve` stands in for
      // `peek`, which custom stores may lack.
      const ask = typeof store.peek === 'function' ? store.peek.bind(store) : store.reserve.bind(store);
      let answer: Awaited<ReturnType<typeof ask>>;
      try {
        answer = await withDeadline('the store', storeTimeoutMs, () => ask({ revocations: revocationChecks(verifiedParent), counters: [], once: [], credentials: [] }));
      } catch (err) {
        throw unavailable('the revocation state of the parent capability could not be read; try again', err);
      }
      if (!answer.ok) throw badRequest('invalid_request', 'the parent capability is revoked');
      const parentAud = Array.isArray(parent.aud) ? parent.aud.join(' ') : parent.aud;
      if (audience !== parentAud) throw badRequest('invalid_request', "audience must be the parent capability's audience");
      if (typeof parent.sub === 'string' && blocked('agent', parent.sub)) {
        throw new OAuthError(403, 'access_denied', "the parent capability's holder is stopped by an administrator");
      }
      const parentExp = typeof parent.exp === 'number' ? parent.exp : 0;
      const remaining = parentExp - Math.floor(clock() / 1000);
      role = chooseRole(roles, (r) => ceilingCheck(r, ttl, requested.tools, link));
      const childTtl = ttl ?? (remaining > role.maxTtlSec ? role.maxTtlSec : undefined);
      try {
        capability = await sign(() =>
          authority.delegate(actorToken, {
            to: agent.id,
            tools: requested.tools,
            intent: requested.intent,
            ...(childTtl === undefined ? {} : { ttl: childTtl }),
            ...(jkt === undefined ? {} : { confirmation: { jkt } }),
          }),
        );
      } catch (err) {
        if (err instanceof CapabilityError) {
          const why = err.reason;
          if (/the parent capability|maximum delegation depth|expir/.test(why)) throw badRequest('invalid_request', why);
          throw invalidDetails(why);
        }
        throw err;
      }
    }
    span.setAttributes({ [GRANT_ATTR.ROLE]: role.name, [GRANT_ATTR.BOUND]: jkt !== undefined });
    return json(
      {
        access_token: capability,
        issued_token_type: TOKEN_TYPE_JWT,
        token_type: jkt === undefined ? 'N_A' : 'DPoP',
        expires_in: lifetime ?? (decodeJwt(capability).exp ?? 0) - Math.floor(clock() / 1000),
        authorization_details: grantedDetails(requested.intent, requested.tools),
      },
      200,
      { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
    );
  }

  async function revoke(request: Request): Promise<Response> {
    const form = await readForm(request, maxBody);
    const token = form.get('token');
    if (token === undefined) throw badRequest('invalid_request', 'token is required');
    const bearer = bearerToken(request);
    const proof = dpop(request, endpoints.revoke);
    if (bearer === undefined && proof === undefined) {
      throw new OAuthError(401, 'invalid_client', "prove you hold the capability: its holder's identity token as Authorization: Bearer, or a DPoP proof by its key");
    }
    const caller = bearer === undefined ? undefined : await verifyIdentity(bearer, 'bearer token');
    const jkt = proof === undefined ? undefined : await proof;
    const verified = token.length <= 64 * 1024 ? await verifyOwnCapability(token) : undefined;
    // RFC 7009 §2.2: an unknown, expired or foreign token is answered like a revoked one.
    if (verified === undefined) return new Response(null, { status: 200, headers: { 'Cache-Control': 'no-store' } });
    const holder = (caller !== undefined && caller.id === verified.subject) || (jkt !== undefined && jkt === verified.confirmationJkt);
    if (!holder) throw new OAuthError(401, 'invalid_client', "the caller is not this capability's holder");
    try {
      await withDeadline('the store', storeTimeoutMs, () => revoker.revokeCapability(verified.id));
    } catch (err) {
      throw unavailable('the revocation could not be written to the store; try again', err);
    }
    return new Response(null, { status: 200, headers: { 'Cache-Control': 'no-store' } });
  }

  async function admin(request: Request): Promise<AgentIdentity> {
    const token = bearerToken(request);
    const challenge = { 'WWW-Authenticate': 'Bearer error="invalid_token"' };
    if (token === undefined) throw new OAuthError(401, 'invalid_token', "the admin API needs an administrator's identity token as Authorization: Bearer", challenge);
    let who: AgentIdentity;
    try {
      who = await verifyIdentity(token, 'bearer token');
    } catch (err) {
      if (err instanceof OAuthError && err.code === 'invalid_request') throw new OAuthError(401, 'invalid_token', err.description, challenge);
      throw err;
    }
    if (!policy.isAdmin(who)) throw new OAuthError(403, 'insufficient_scope', 'this identity has no admin role in the grant policy', { 'WWW-Authenticate': 'Bearer error="insufficient_scope"' });
    return who;
  }

  const listRevocations = (): AdminRevocation[] => [...revocations.values()].map((r) => ({ ...r }));

  async function addRevocation(request: Request): Promise<Response> {
    const who = await admin(request);
    const r = adminRevocationSchema.safeParse(await readJson(request, maxBody));
    if (!r.success) throw badRequest('invalid_request', describeIssues(r.error, 'revocation'));
    const { kind, id, reason } = r.data;
    try {
      await withDeadline('the store', storeTimeoutMs, () =>
        kind === 'agent' ? revoker.revokeAgent(id) : kind === 'intent' ? revoker.revokeIntent(id) : revoker.revokeCapability(id),
      );
    } catch (err) {
      if (err instanceof TypeError) throw badRequest('invalid_request', err.message);
      throw unavailable('the revocation could not be written to the store; try again', err);
    }
    const entry: AdminRevocation = { kind, id, reason, revokedAt: new Date(clock()).toISOString(), revokedBy: who.id };
    revocations.set(`${kind}\n${id}`, entry);
    return json({ ...entry }, 201, { 'Cache-Control': 'no-store' });
  }

  async function liftRevocation(request: Request, rest: string): Promise<Response> {
    await admin(request);
    const slash = rest.indexOf('/');
    const kind = slash < 0 ? rest : rest.slice(0, slash);
    let id: string;
    try {
      id = decodeURIComponent(slash < 0 ? '' : rest.slice(slash + 1));
    } catch {
      throw badRequest('invalid_request', 'the revocation id is not valid percent-encoding');
    }
    if (kind !== 'agent' && kind !== 'intent' && kind !== 'capability') throw badRequest('invalid_request', 'the kind must be agent, intent or capability');
    if (kind === 'capability') {
      throw badRequest('invalid_request', 'a revoked capability stays revoked; ask the authority for a new one');
    }
    if (!revocations.delete(`${kind}\n${id}`)) throw new OAuthError(404, 'not_found', `this authority holds no stop of that ${kind}`);
    return json({ lifted: { kind, id } }, 200, { 'Cache-Control': 'no-store' });
  }

  const guarded = async (run: () => Promise<Response>): Promise<Response> => {
    try {
      return await run();
    } catch (err) {
      return oauthErrorResponse(err instanceof OAuthError ? err : new OAuthError(500, 'server_error', 'the authority failed to handle the request', {}, { cause: err }));
    }
  };

  const app = new Hono();
  app.get('/.well-known/oauth-authorization-server', () => json(metadata, 200, { 'Cache-Control': `public, max-age=${jwksMaxAge}` }));
  app.get('/jwks.json', () => json(authority.jwks(), 200, { 'Cache-Control': `public, max-age=${jwksMaxAge}` }));
  app.post('/token', async (c) => {
    const span = tracer.startSpan(GRANT_SPAN, { kind: SpanKind.SERVER });
    try {
      const response = await exchange(c.req.raw, span);
      span.setAttribute(GRANT_ATTR.OUTCOME, 'granted');
      return response;
    } catch (err) {
      const e = err instanceof OAuthError ? err : new OAuthError(500, 'server_error', 'the authority failed to handle the request', {}, { cause: err });
      span.setAttributes({ [GRANT_ATTR.OUTCOME]: 'refused', [GRANT_ATTR.OAUTH_ERROR]: e.code, [GRANT_ATTR.REASON]: e.description });
      if (e.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
      return oauthErrorResponse(e);
    } finally {
      span.end();
    }
  });
  app.post('/revoke', (c) => guarded(() => revoke(c.req.raw)));
  app.post('/admin/revocations', (c) => guarded(() => addRevocation(c.req.raw)));
  app.get('/admin/revocations', (c) =>
    guarded(async () => {
      await admin(c.req.raw);
      return json({ revocations: listRevocations() }, 200, { 'Cache-Control': 'no-store' });
    }),
  );
  app.delete('/admin/revocations/*', (c) =>
    guarded(() => liftRevocation(c.req.raw, new URL(c.req.url).pathname.slice('/admin/revocations/'.length))),
  );
  app.notFound(() => oauthErrorResponse(new OAuthError(404, 'not_found', 'no such endpoint; see /.well-known/oauth-authorization-server')));
  app.onError(() => oauthErrorResponse(new OAuthError(500, 'server_error', 'the authority failed to handle the request')));

  return {
    app,
    metadata,
    fetch: async (request) => app.fetch(request),
  };
}
