/**
 * A real OpenID provider (the `oidc-provider` package) on 127.0.0.1, issuing RFC 9068 JWT access
 * tokens to agent clients through the client-credentials grant and a resource indicator.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Adapter, AdapterPayload } from 'oidc-provider';

type ProviderClass = typeof import('oidc-provider').default;
let providerClass: Promise<ProviderClass> | undefined;

/**
 * oidc-provider warns on import that Node 20 is not a runtime it supports; the suite runs on the
 * Node 20 the package declares and exercises the provider for real, so that one line is noise in
 * every test run. Only that exact warning is dropped, and only while the module loads.
 */
function loadProvider(): Promise<ProviderClass> {
  providerClass ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
      warn(...args);
    };
    try {
      return (await import('oidc-provider')).default;
    } finally {
      console.warn = warn;
    }
  })();
  return providerClass;
}

/**
 * Our own storage, so the provider does not fall back to its development adapter (and warn about
 * it on every start). One provider per test, so a plain Map is all it needs.
 */
function memoryAdapter(): new (model: string) => Adapter {
  const rows = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  return class implements Adapter {
    constructor(private readonly model: string) {}
    private key(id: string): string {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      rows.set(this.key(id), { payload, expiresAt: Date.now() + expiresIn * 1000 });
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      const row = rows.get(this.key(id));
      return row !== undefined && row.expiresAt > Date.now() ? row.payload : undefined;
    }
    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return [...rows.values()].find((r) => r.payload.userCode === userCode)?.payload;
    }
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return [...rows.values()].find((r) => r.payload.uid === uid)?.payload;
    }
    async consume(id: string): Promise<void> {
      const row = rows.get(this.key(id));
      if (row !== undefined) row.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      rows.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [k, r] of rows) if (r.payload.grantId === grantId) rows.delete(k);
    }
  };
}

export interface TestOidcProvider {
  readonly issuer: string;
  /** The kid the provider signs with now. */
  readonly kid: string;
  /** Asks the token endpoint for an access token as this client. */
  token(clientId: string): Promise<string>;
  /** Starts signing with a fresh key; the old key stays published. */
  rotate(): string;
  stop(): Promise<void>;
}

export const RESOURCE = 'urn:tessera:support-app';

let seq = 0;
function newKey(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: `op-${++seq}`, use: 'sig', alg: 'ES256' };
}

export async function startOidcProvider(clientIds: string[], audience: string): Promise<TestOidcProvider> {
  const Provider = await loadProvider();
  const secrets = new Map(clientIds.map((id) => [id, randomBytes(24).toString('base64url')]));
  const keys = [newKey()];
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const configure = (): void => {
    const provider = new Provider(issuer, {
      adapter: memoryAdapter(),
      clients: clientIds.map((client_id) => ({
        client_id,
        client_secret: secrets.get(client_id)!,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      })),
      // The newest key signs; older ones stay in the JWKS so live tokens still verify.
      jwks: { keys: [...keys].reverse() as never },
      ttl: { ClientCredentials: 300 },
      features: {
        clientCredentials: { enabled: true },
        devInteractions: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => RESOURCE,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: 'tools',
            audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 300,
            jwt: { sign: { alg: 'ES256' } },
          }),
        },
      },
    });
    handler = provider.callback() as typeof handler;
  };
  configure();

  return {
    issuer,
    get kid() {
      return String(keys[keys.length - 1]!.kid);
    },
    async token(clientId) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${secrets.get(clientId)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE, scope: 'tools' }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!res.ok || body.access_token === undefined) throw new Error(`token endpoint refused: ${body.error ?? res.status}`);
      return body.access_token;
    },
    rotate() {
      keys.push(newKey());
      configure();
      return String(keys[keys.length - 1]!.kid);
    },
    stop() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
