/**
 * The agent's side of the authority service: it trades the agent's identity token for a
 * capability (RFC 8693 token exchange with RFC 9396 authorization details), optionally bound to
 * the agent's own key with DPoP (RFC 9449), and asks for narrower children the same way.
 * Discovery, the token request and DPoP proofs are oauth4webapi's; this module only says what
 * to ask for and turns refusals into errors that carry the OAuth code and never a token.
 */
import { webcrypto } from 'node:crypto';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { z } from 'zod';
import { intentSchema, toolsSchema, type Intent, type ToolGrant } from '../capability/claims.js';
import type { AgentKey } from '../identity/agent-key.js';
import { parseOptions } from '../util/options.js';
import { durationSeconds, type Duration } from '../util/time.js';
import type { OAuthErrorCode } from '../errors.js';
import { AuthorityRequestError } from './errors.js';

export { AuthorityRequestError, type AuthorityClientCode } from './errors.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const SUBJECT_TOKEN_TYPES = {
  jwt: JWT_TYPE,
  access_token: 'urn:ietf:params:oauth:token-type:access_token',
  id_token: 'urn:ietf:params:oauth:token-type:id_token',
} as const;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost']);
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_DESCRIPTION = 500;

/** Which kind of identity token the agent holds: a JWT-SVID (`jwt`) or an OIDC token. */
export type IdentityTokenType = keyof typeof SUBJECT_TOKEN_TYPES;

export interface RequestCapabilityOptions {
  /** The authority's issuer URL; its RFC 8414 metadata names the token endpoint. `http:` only on 127.0.0.1 or localhost. */
  authority: URL | string;
  /** The agent's identity token, or a function returning a fresh one (asked again on every request, refreshes included). */
  identityToken: string | (() => string | Promise<string>);
  /** Default `jwt` (a JWT-SVID); `access_token` or `id_token` for an OIDC token. */
  identityTokenType?: IdentityTokenType;
  /** The agent's key (from `createAgentKey`): the capability is bound to it (`cnf.jkt`) with a DPoP proof. */
  key?: AgentKey;
  /** The guard deployment that will enforce the capability. */
  audience: string;
  intent: Intent;
  /** Tool name → `{ args?, maxCalls?, retrieval? }`, as in a grant. */
  tools: Record<string, ToolGrant>;
  /** Lifetime to ask for: seconds or `"30s"`, `"5m"`, `"1h"`. Above the authority's ceiling it is refused, not shortened. */
  ttl?: Duration;
  /** Asks for a fresh capability this many ms before the current one expires; off by default. */
  refreshBeforeMs?: number;
  /** Called when an automatic refresh fails; the current capability stays until it expires. */
  onRefreshError?: (error: AuthorityRequestError) => void;
  /** Deadline of each HTTP request to the authority, ms; default 10,000. */
  timeoutMs?: number;
}

export interface CapabilityHandle {
  /** The current capability token (replaced by each refresh). */
  readonly capability: string;
  /** When the current capability expires. */
  readonly expiresAt: Date;
  /** `DPoP` when the capability is bound to the agent's key, else `N_A`. */
  readonly tokenType: 'DPoP' | 'N_A';
  /** The authorization details as granted. */
  readonly authorizationDetails: readonly unknown[];
  /** Asks the authority for a fresh capability with the same request; resolves to the new token. */
  refresh(): Promise<string>;
  /** Stops automatic refresh. */
  close(): void;
}

export interface DelegateRemoteOptions {
  authority: URL | string;
  /** The parent capability (the token, or the handle `requestCapability` returned). */
  parent: string | Pick<CapabilityHandle, 'capability'>;
  /**
   * Signs the DPoP proof. When the parent is key-bound this must be the key its `cnf.jkt` names;
   * the child is bound to the key that signs the proof.
   */
  key?: AgentKey;
  /** The child holder's identity token: the new holder proves who it is. */
  childIdentityToken: string | (() => string | Promise<string>);
  childIdentityTokenType?: IdentityTokenType;
  tools: Record<string, ToolGrant>;
  /** Default: the parent's intent. */
  intent?: Intent;
  ttl?: Duration;
  timeoutMs?: number;
}

export interface DelegatedCapability {
  readonly capability: string;
  readonly expiresAt: Date;
  readonly tokenType: 'DPoP' | 'N_A';
  readonly authorizationDetails: readonly unknown[];
}

const agentKeySchema = z.custom<AgentKey>(
  (k) => typeof k === 'object' && k !== null && typeof (k as AgentKey).jkt === 'string' && typeof (k as AgentKey).signingKey === 'object',
  { message: 'must be an AgentKey from createAgentKey() or importAgentKey()' },
);
const tokenSource = z.union([z.string().min(1), z.custom<() => string | Promise<string>>((f) => typeof f === 'function')]);
const durationSchema = z.union([z.number().int().positive(), z.string().regex(/^\d+(s|m|h|d)$/, { message: 'a duration like "30s", "5m", "1h"' })]);
const authoritySchema = z.union([z.instanceof(URL), z.string().min(1)]);
const tokenTypeSchema = z.enum(['jwt', 'access_token', 'id_token']);
const timeoutSchema = z.number().int().positive().max(300_000);

const requestSchema = z.strictObject({
  authority: authoritySchema,
  identityToken: tokenSource,
  identityTokenType: tokenTypeSchema.optional(),
  key: agentKeySchema.optional(),
  audience: z.string().min(1).max(2048),
  intent: intentSchema,
  tools: toolsSchema,
  ttl: durationSchema.optional(),
  refreshBeforeMs: z.number().int().positive().max(86_400_000).optional(),
  onRefreshError: z.custom<(e: AuthorityRequestError) => void>((f) => typeof f === 'function').optional(),
  timeoutMs: timeoutSchema.optional(),
});

const delegateSchema = z.strictObject({
  authority: authoritySchema,
  parent: z.union([z.string().min(1), z.custom<Pick<CapabilityHandle, 'capability'>>((p) => typeof p === 'object' && p !== null && typeof (p as { capability?: unknown }).capability === 'string')]),
  key: agentKeySchema.optional(),
  childIdentityToken: tokenSource,
  childIdentityTokenType: tokenTypeSchema.optional(),
  tools: toolsSchema,
  intent: intentSchema.optional(),
  ttl: durationSchema.optional(),
  timeoutMs: timeoutSchema.optional(),
});

function authorityUrl(value: URL | string, where: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${where}: authority must be a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new TypeError(`${where}: authority must use https (http only on 127.0.0.1 or localhost)`);
  }
  return url;
}

function authorizationDetails(intent: Intent, tools: Record<string, ToolGrant>): string {
  const details: unknown[] = [{ type: 'tessera_intent', id: intent.id, purpose: intent.purpose }];
  for (const [tool, grant] of Object.entries(tools)) {
    details.push({
      type: 'tessera_tool',
      tool,
      ...(grant.args !== undefined ? { args: grant.args } : {}),
      ...(grant.maxCalls !== undefined ? { maxCalls: grant.maxCalls } : {}),
      // A bound left out would be a wider grant than the one asked for.
      ...(grant.retrieval !== undefined ? { retrieval: grant.retrieval } : {}),
    });
  }
  return JSON.stringify(details);
}

/** oauth4webapi signs with WebCrypto; the agent's key is a Node KeyObject. Imported once per key. */
const cryptoKeys = new WeakMap<AgentKey, Promise<oauth.CryptoKeyPair>>();
function cryptoKeyPair(key: AgentKey): Promise<oauth.CryptoKeyPair> {
  let pair = cryptoKeys.get(key);
  if (pair === undefined) {
    pair = (async () => {
      const algorithm = key.signingKey.alg === 'EdDSA' ? { name: 'Ed25519' } : { name: 'ECDSA', namedCurve: 'P-256' };
      const privateJwk = key.signingKey.privateKey.export({ format: 'jwk' }) as webcrypto.JsonWebKey;
      const privateKey = await webcrypto.subtle.importKey('jwk', privateJwk, algorithm, false, ['sign']);
      const publicKey = await webcrypto.subtle.importKey('jwk', key.publicJwk as webcrypto.JsonWebKey, algorithm, true, ['verify']);
      return { privateKey, publicKey } as unknown as oauth.CryptoKeyPair;
    })();
    cryptoKeys.set(key, pair);
  }
  return pair;
}

/** No client authentication: the subject token authenticates the request (metadata: `none`). */
const noClientAuth: oauth.ClientAuth = () => undefined;
const CLIENT: oauth.Client = { client_id: 'tessera-agent' };

interface Connection {
  readonly issuer: URL;
  readonly timeoutMs: number;
  readonly insecure: boolean;
  as?: oauth.AuthorizationServer;
}

function connect(issuer: URL, timeoutMs: number): Connection {
  return { issuer, timeoutMs, insecure: issuer.protocol === 'http:' };
}

/** Text the authority sent, bounded, with any token we sent cut out in case it was echoed. */
function scrub(text: unknown, secrets: readonly string[]): string {
  let s = typeof text === 'string' ? text.slice(0, MAX_DESCRIPTION) : '';
  for (const secret of secrets) if (secret.length > 0) s = s.split(secret).join('[redacted]');
  return s;
}

function retryAfter(response: Response | undefined): number | undefined {
  const v = response?.headers.get('retry-after');
  if (v === null || v === undefined || !/^\d{1,6}$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

const OAUTH_CODES: ReadonlySet<string> = new Set<OAuthErrorCode>([
  'invalid_request',
  'unsupported_grant_type',
  'invalid_authorization_details',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'access_denied',
  'invalid_client',
  'invalid_grant',
  'invalid_token',
  'insufficient_scope',
  'slow_down',
  'not_found',
  'temporarily_unavailable',
  'server_error',
]);

/** The server's `error` only if it is one of the codes this package documents; anything else is not trusted as a code. */
const knownCode = (code: string | undefined): OAuthErrorCode | undefined => (code !== undefined && OAUTH_CODES.has(code) ? (code as OAuthErrorCode) : undefined);

/** Maps whatever went wrong to an AuthorityRequestError; oauth4webapi's errors (which hold response bodies) are dropped. */
function toAuthorityError(err: unknown, secrets: readonly string[], during: string): AuthorityRequestError {
  if (err instanceof AuthorityRequestError) return err;
  if (err instanceof oauth.ResponseBodyError) {
    return new AuthorityRequestError(knownCode(scrub(err.error, secrets)) ?? 'invalid_response', scrub(err.error_description, secrets) || `the authority answered ${err.status} to ${during}`, {
      status: err.status,
      retryAfterSec: retryAfter(err.response),
    });
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    const challenge = err.cause[0];
    const code = knownCode(scrub(challenge?.parameters.error, secrets)) ?? 'invalid_request';
    const description = scrub(challenge?.parameters.error_description, secrets) || `the authority answered ${err.status} to ${during}`;
    return new AuthorityRequestError(code, description, { status: err.status, retryAfterSec: retryAfter(err.response) });
  }
  if (err instanceof oauth.OperationProcessingError) {
    const status = (err.cause as { status?: unknown } | undefined)?.status;
    return new AuthorityRequestError('invalid_response', `the authority's answer to ${during} is not a conforming OAuth response`, {
      status: typeof status === 'number' ? status : undefined,
    });
  }
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new AuthorityRequestError('authority_unreachable', `the authority did not answer ${during} within the deadline`);
  }
  return new AuthorityRequestError('authority_unreachable', `the authority could not be reached for ${during}`);
}

async function metadata(conn: Connection): Promise<oauth.AuthorizationServer> {
  if (conn.as !== undefined) return conn.as;
  const response = await oauth.discoveryRequest(conn.issuer, {
    algorithm: 'oauth2',
    signal: AbortSignal.timeout(conn.timeoutMs),
    [oauth.allowInsecureRequests]: conn.insecure,
  });
  const as = await oauth.processDiscoveryResponse(conn.issuer, response);
  if (typeof as.token_endpoint !== 'string') throw new AuthorityRequestError('invalid_response', "the authority's metadata names no token_endpoint");
  conn.as = as;
  return as;
}

function dpopHandle(as: oauth.AuthorizationServer, pair: oauth.CryptoKeyPair): oauth.DPoPHandle {
  const supported = as.dpop_signing_alg_values_supported ?? [];
  return oauth.DPoP(CLIENT, pair, {
    // RFC 9864 names Ed25519 signatures "Ed25519"; an authority that lists only the older
    // "EdDSA" gets the same signature under that name.
    [oauth.modifyAssertion]: (header) => {
      if (header.alg === 'Ed25519' && !supported.includes('Ed25519') && supported.includes('EdDSA')) header.alg = 'EdDSA';
    },
  });
}

interface Exchange {
  subjectToken: string;
  subjectTokenType: string;
  audience?: string | undefined;
  actorToken?: string | undefined;
  details: string;
  ttlSec: number | undefined;
  key: AgentKey | undefined;
}

interface Granted {
  capability: string;
  expiresAt: Date;
  tokenType: 'DPoP' | 'N_A';
  authorizationDetails: readonly unknown[];
}

async function exchange(conn: Connection, x: Exchange, during: string): Promise<Granted> {
  const secrets = [x.subjectToken, ...(x.actorToken !== undefined ? [x.actorToken] : [])];
  try {
    const as = await metadata(conn);
    const params = new URLSearchParams({ subject_token: x.subjectToken, subject_token_type: x.subjectTokenType, authorization_details: x.details });
    if (x.audience !== undefined) params.set('audience', x.audience);
    if (x.actorToken !== undefined) {
      params.set('actor_token', x.actorToken);
      params.set('actor_token_type', JWT_TYPE);
    }
    if (x.ttlSec !== undefined) params.set('requested_ttl', String(x.ttlSec));
    const DPoP = x.key === undefined ? undefined : dpopHandle(as, await cryptoKeyPair(x.key));
    const send = async (): Promise<oauth.TokenEndpointResponse> => {
      const response = await oauth.genericTokenEndpointRequest(as, CLIENT, noClientAuth, TOKEN_EXCHANGE, params, {
        signal: AbortSignal.timeout(conn.timeoutMs),
        [oauth.allowInsecureRequests]: conn.insecure,
        ...(DPoP !== undefined ? { DPoP } : {}),
      });
      return oauth.processGenericTokenEndpointResponse(as, CLIENT, response, { recognizedTokenTypes: { n_a: () => undefined } });
    };
    let body: oauth.TokenEndpointResponse;
    try {
      body = await send();
    } catch (err) {
      // RFC 9449 §8: an authority may demand a nonce; the handle has cached it, so ask once more.
      if (DPoP === undefined || !oauth.isDPoPNonceError(err)) throw err;
      body = await send();
    }
    return granted(body, x.key);
  } catch (err) {
    throw toAuthorityError(err, secrets, during);
  }
}

function granted(body: oauth.TokenEndpointResponse, key: AgentKey | undefined): Granted {
  const capability = body.access_token;
  const bad = (why: string): never => {
    throw new AuthorityRequestError('invalid_response', why);
  };
  if (body.issued_token_type !== JWT_TYPE) bad(`the authority issued a token of type ${JSON.stringify(body.issued_token_type ?? null)}, not a JWT`);
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(capability);
  } catch {
    return bad('the authority issued a token that is not a JWT');
  }
  if (typeof claims.exp !== 'number') bad('the issued capability has no exp');
  const jkt = (claims.cnf as { jkt?: unknown } | undefined)?.jkt;
  if (key !== undefined && (body.token_type !== 'dpop' || jkt !== key.jkt)) {
    bad('the authority did not bind the capability to the agent key that signed the DPoP proof');
  }
  const details = body.authorization_details;
  return {
    capability,
    expiresAt: new Date(claims.exp! * 1000),
    tokenType: body.token_type === 'dpop' ? 'DPoP' : 'N_A',
    authorizationDetails: Object.freeze(Array.isArray(details) ? [...details] : []),
  };
}

const resolveToken = async (source: string | (() => string | Promise<string>), what: string): Promise<string> => {
  const token = typeof source === 'string' ? source : await source();
  if (typeof token !== 'string' || token.length === 0) throw new AuthorityRequestError('invalid_request', `${what} returned no token`);
  return token;
};

/**
 * Trades the agent's identity token for a capability covering `tools` for `intent`, for the
 * guard deployment `audience`. With `key`, the capability is bound to it: only the holder of the
 * private key can use it, at the guard and at the authority.
 */
export async function requestCapability(options: RequestCapabilityOptions): Promise<CapabilityHandle> {
  const o = parseOptions(requestSchema, options, 'requestCapability');
  const conn = connect(authorityUrl(o.authority, 'requestCapability'), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const details = authorizationDetails(o.intent, o.tools as Record<string, ToolGrant>);
  const ttlSec = o.ttl === undefined ? undefined : durationSeconds(o.ttl as Duration, 'ttl');
  const subjectTokenType = SUBJECT_TOKEN_TYPES[o.identityTokenType ?? 'jwt'];
  const ask = async (): Promise<Granted> =>
    exchange(
      conn,
      { subjectToken: await resolveToken(o.identityToken, 'identityToken'), subjectTokenType, audience: o.audience, details, ttlSec, key: o.key },
      'the capability request',
    );

  let current = await ask();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const schedule = (): void => {
    if (o.refreshBeforeMs === undefined || closed) return;
    const wait = Math.max(0, current.expiresAt.getTime() - o.refreshBeforeMs - Date.now());
    timer = setTimeout(() => {
      ask().then(
        (next) => {
          // A refresh that lands after close() is dropped: close means the handle stays as it is.
          if (closed) return;
          current = next;
          schedule();
        },
        (err: unknown) => {
          if (closed) return;
          o.onRefreshError?.(toAuthorityError(err, [], 'the capability refresh'));
        },
      );
    }, Math.min(wait, 2_147_483_647));
    // An agent process must be free to exit while a refresh is pending.
    timer.unref();
  };

  const handle: CapabilityHandle = {
    get capability() {
      return current.capability;
    },
    get expiresAt() {
      return current.expiresAt;
    },
    get tokenType() {
      return current.tokenType;
    },
    get authorizationDetails() {
      return current.authorizationDetails;
    },
    async refresh() {
      if (timer !== undefined) clearTimeout(timer);
      try {
        current = await ask();
      } finally {
        schedule();
      }
      return current.capability;
    },
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
  schedule();
  return handle;
}

/**
 * Asks the authority for a narrower child of `parent` for the holder of `childIdentityToken`.
 * The authority checks the child against its parent and against the ceiling of the child
 * holder's role; a wider child is refused, never shortened.
 */
export async function delegateRemote(options: DelegateRemoteOptions): Promise<DelegatedCapability> {
  const o = parseOptions(delegateSchema, options, 'delegateRemote');
  const conn = connect(authorityUrl(o.authority, 'delegateRemote'), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const parent = typeof o.parent === 'string' ? o.parent : o.parent.capability;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(parent);
  } catch {
    throw new TypeError('delegateRemote: parent is not a capability token');
  }
  // The child is enforced by the same guard deployment as its parent.
  const audience = typeof claims.aud === 'string' ? claims.aud : claims.aud?.[0];
  let intent = o.intent;
  if (intent === undefined) {
    const parsed = intentSchema.safeParse(claims.intent);
    if (!parsed.success) throw new TypeError('delegateRemote: the parent carries no intent; pass intent');
    intent = parsed.data;
  }
  const result = await exchange(
    conn,
    {
      subjectToken: await resolveToken(o.childIdentityToken, 'childIdentityToken'),
      subjectTokenType: SUBJECT_TOKEN_TYPES[o.childIdentityTokenType ?? 'jwt'],
      actorToken: parent,
      audience,
      details: authorizationDetails(intent, o.tools as Record<string, ToolGrant>),
      ttlSec: o.ttl === undefined ? undefined : durationSeconds(o.ttl as Duration, 'ttl'),
      key: o.key,
    },
    'the delegation request',
  );
  return Object.freeze(result);
}

export type { AgentKey, Intent, ToolGrant };
