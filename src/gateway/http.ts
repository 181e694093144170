/**
 * The gateway over Streamable HTTP, as an OAuth protected resource per the MCP authorization
 * specification: RFC 9728 metadata names the Tessera authority as the authorization server, the
 * capability is the access token (RFC 6750 bearer, or RFC 9449 DPoP when the capability is bound
 * to a key), and a request without a valid one is refused with 401 and a `WWW-Authenticate`
 * header pointing at the metadata. Every request is authorized on its own; an MCP session is only
 * transport state, and it stays with the agent that opened it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import type { VerifiedCapability } from '../capability/verify.js';
import { isTesseraError } from '../errors.js';
import { DPOP_ALGORITHMS, verifyDpopProof } from '../server/authority/dpop.js';
import { withDeadline } from '../util/deadline.js';
import { parseOptions } from '../util/options.js';
import type { McpGateway } from './gateway.js';

export interface GatewayHttpOptions {
  /** The MCP endpoint's public URL, e.g. `https://gateway.example.com/mcp`: the resource clients name and DPoP proofs' `htu`. https (http only on loopback). */
  resource: string;
  /** The authorities (issuer URLs) that grant capabilities for this gateway, named in the metadata. */
  authorizationServers: string[];
  /** Most MCP sessions open at once; the oldest is closed beyond it. Default 1,000. */
  maxSessions?: number;
  /** How far a DPoP proof's `iat` may lie from the gateway's clock, seconds; default 60. */
  dpopWindowSec?: number;
}

export interface GatewayHttpHandler {
  /** The Web-standard handler: mount it in any server that speaks Request/Response. */
  fetch(request: Request): Promise<Response>;
  /** The RFC 9728 metadata document. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Its URL. */
  readonly metadataUrl: string;
  /** Closes every open session. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

const optionsSchema = z.strictObject({
  resource: z.string().min(1),
  authorizationServers: z.array(z.string().min(1)).min(1).max(16),
  maxSessions: z.number().int().positive().max(1_000_000).optional(),
  dpopWindowSec: z.number().int().min(1).max(300).optional(),
});

function resourceUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError('createGatewayHttpHandler: resource must be a URL, e.g. "https://gateway.example.com/mcp"');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new TypeError('createGatewayHttpHandler: resource must use https (plain http only on 127.0.0.1, localhost or [::1])');
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new TypeError('createGatewayHttpHandler: resource must have no query, fragment or credentials');
  }
  return url;
}

/** A quoted-string for an auth-param: no quote, backslash or control character survives. */
const quoted = (s: string): string => `"${s.replace(/[\\"\u0000-\u001f\u007f]/g, ' ').slice(0, 300)}"`;

interface Session {
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly agent: string;
  close(): Promise<void>;
}

export function createGatewayHttpHandler(gateway: McpGateway, options: GatewayHttpOptions): GatewayHttpHandler {
  parseOptions(optionsSchema, options, 'createGatewayHttpHandler');
  const resource = resourceUrl(options.resource);
  const resourceId = resource.href;
  const path = resource.pathname.replace(/\/$/, '') || '/';
  const metadataPath = `/.well-known/oauth-protected-resource${path === '/' ? '' : path}`;
  const metadataUrl = `${resource.origin}${metadataPath}`;
  const maxSessions = options.maxSessions ?? 1000;
  const dpopWindowSec = options.dpopWindowSec ?? 60;
  const guard = gateway.guard;
  const metadata = Object.freeze({
    resource: resourceId,
    authorization_servers: [...options.authorizationServers],
    bearer_methods_supported: ['header'],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    resource_name: 'Tessera MCP gateway',
  });
  const sessions = new Map<string, Session>();

  const challenge = (status: number, scheme: 'Bearer' | 'DPoP', error?: string, description?: string): Response => {
    const params = [
      ...(error === undefined ? [] : [`error=${quoted(error)}`]),
      ...(description === undefined ? [] : [`error_description=${quoted(description)}`]),
      `resource_metadata=${quoted(metadataUrl)}`,
      ...(scheme === 'DPoP' ? [`algs=${quoted(DPOP_ALGORITHMS.join(' '))}`] : []),
    ];
    const body = error === undefined ? null : JSON.stringify({ error, ...(description === undefined ? {} : { error_description: description }) });
    return new Response(body, {
      status,
      headers: { 'WWW-Authenticate': `${scheme} ${params.join(', ')}`, 'Cache-Control': 'no-store', ...(body === null ? {} : { 'Content-Type': 'application/json' }) },
    });
  };

  /** The capability on this request, verified; or the 401 to answer with. */
  const authorize = async (request: Request): Promise<{ token: string; cap: VerifiedCapability } | Response> => {
    const header = request.headers.get('authorization');
    if (header === null) return challenge(401, 'Bearer');
    const m = /^(Bearer|DPoP) +([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    if (m === null) return challenge(401, 'Bearer', 'invalid_request', 'the Authorization header must be "Bearer <capability>" or "DPoP <capability>"');
    const scheme = m[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const token = m[2]!;
    let cap: VerifiedCapability;
    try {
      cap = await withDeadline(guard.inspect(token), 10_000, "the capability's issuer keys");
    } catch (err) {
      const reason = isTesseraError(err) && typeof err.reason === 'string' ? err.reason : 'the capability could not be verified';
      return challenge(401, scheme, 'invalid_token', reason);
    }
    if (cap.confirmationJkt === undefined) {
      if (scheme === 'DPoP') return challenge(401, 'DPoP', 'invalid_token', 'the capability is not bound to a key; present it as a Bearer token');
      return { token, cap };
    }
    if (scheme !== 'DPoP') return challenge(401, 'DPoP', 'invalid_token', 'the capability is bound to a key (cnf.jkt): present it with the DPoP scheme and a DPoP proof');
    const proofs = request.headers.get('dpop');
    if (proofs === null || proofs.includes(',')) return challenge(401, 'DPoP', 'invalid_dpop_proof', 'exactly one DPoP header is required');
    try {
      const jkt = await verifyDpopProof(proofs, {
        htm: request.method,
        htu: resourceId,
        clock: Date.now,
        windowSec: dpopWindowSec,
        store: guard.store,
        storeTimeoutMs: 2000,
      });
      if (jkt !== cap.confirmationJkt) return challenge(401, 'DPoP', 'invalid_dpop_proof', "the DPoP proof is signed by another key than the capability's cnf.jkt");
      const ath = createHash('sha256').update(token).digest('base64url');
      if (decodeJwt(proofs).ath !== ath) return challenge(401, 'DPoP', 'invalid_dpop_proof', "the DPoP proof's ath is not the hash of this capability");
    } catch (err) {
      const description = isTesseraError(err) && typeof (err as { description?: unknown }).description === 'string' ? (err as unknown as { description: string }).description : 'the DPoP proof could not be verified';
      return challenge(401, 'DPoP', 'invalid_dpop_proof', description);
    }
    return { token, cap };
  };

  const openSession = async (agent: string): Promise<Session> => {
    let server: ReturnType<McpGateway['createServer']> | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        if (sessions.size >= maxSessions) {
          const oldest = sessions.entries().next();
          if (!oldest.done) {
            sessions.delete(oldest.value[0]);
            void oldest.value[1].close();
          }
        }
        sessions.set(id, session);
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    // Each request carries its own capability; the session never holds one.
    server = gateway.createServer((extra) => extra.authInfo?.token);
    const session: Session = {
      transport,
      agent,
      close: async () => {
        await server?.close().catch(() => undefined);
      },
    };
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return session;
  };

  const fetchHandler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname === metadataPath) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return new Response(null, { status: 405, headers: { Allow: 'GET' } });
      return new Response(JSON.stringify(metadata), { status: 200, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=300' } });
    }
    if ((url.pathname.replace(/\/$/, '') || '/') !== path) return new Response('not found', { status: 404 });
    const auth = await authorize(request);
    if (auth instanceof Response) return auth;
    const authInfo = { token: auth.token, clientId: auth.cap.subject, scopes: [], expiresAt: auth.cap.expiresAt, resource: new URL(resourceId) };
    const sessionId = request.headers.get('mcp-session-id');
    let session: Session;
    if (sessionId !== null) {
      const found = sessions.get(sessionId);
      // A session opened by another agent is not found: its id is not a credential for anyone else.
      if (found === undefined || found.agent !== auth.cap.subject) {
        return new Response(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }), {
          status: 404,
          headers: { 'Content-Type': 'application/json' },
        });
      }
      session = found;
    } else {
      if (request.method !== 'POST') return new Response('an MCP session starts with a POST of initialize', { status: 400 });
      session = await openSession(auth.cap.subject);
      const response = await session.transport.handleRequest(request, { authInfo });
      // Anything but an initialize leaves no session behind.
      if (session.transport.sessionId === undefined) await session.close();
      return response;
    }
    return session.transport.handleRequest(request, { authInfo });
  };

  return {
    fetch: fetchHandler,
    metadata,
    metadataUrl,
    async close() {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(all.map((s) => s.close()));
    },
  };
}
