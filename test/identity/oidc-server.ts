/**
 * A real OpenID provider (the `oidc-provider` package) on 127.0.0.1, issuing RFC 9068 JWT access
 * tokens to agent clients through the client-credentials grant and a resource indicator.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

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
  const secrets = new Map(clientIds.map((id) => [id, randomBytes(24).toString('base64url')]));
  const keys = [newKey()];
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const configure = (): void => {
    const provider = new Provider(issuer, {
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
