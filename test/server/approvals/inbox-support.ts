/**
 * A real OpenID provider (`oidc-provider`) with its development login and consent pages, for
 * approvers signing in to the inbox through a browser, and the inbox itself on 127.0.0.1.
 * Any password signs a known user in; each user has fixed groups the grant policy matches.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { GrantPolicy } from '../../../src/server/authority/grant-policy.js';
import { createApprovalsInbox, type ApprovalsInbox, type ApprovalsInboxOptions } from '../../../src/server/approvals/inbox.js';

export interface TestUser {
  readonly name: string;
  readonly groups: readonly string[];
}

export const USERS: Readonly<Record<string, TestUser>> = {
  alice: { name: 'Alice Payments', groups: ['payments'] },
  bob: { name: 'Bob Support', groups: ['support'] },
};

export const CLIENT_ID = 'approvals-inbox';

/** Approver roles: matched on the provider's `groups` claim. The ceiling is required by the grant-policy shape; approvers never ask for grants. */
export function approverPolicy(issuer: string): GrantPolicy {
  return {
    roles: [
      { name: 'payments-approvers', match: [{ issuer, claims: { groups: 'payments' } }], ceiling: { tools: { 'payments.*': {} }, maxTtl: '5m' } },
      { name: 'support-approvers', match: [{ issuer, claims: { groups: 'support' } }], ceiling: { tools: { 'tickets.*': {} }, maxTtl: '5m' } },
    ],
  };
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const close = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

export interface InboxRig {
  readonly issuer: string;
  /** The inbox's base URL, e.g. http://127.0.0.1:1234/approvals */
  readonly inboxUrl: string;
  readonly origin: string;
  readonly inbox: ApprovalsInbox;
  readonly sessionSecret: string;
  stop(): Promise<void>;
}

export async function startInboxRig(options: Pick<ApprovalsInboxOptions, 'store'> & Partial<Omit<ApprovalsInboxOptions, 'store'>>): Promise<InboxRig> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING')) return;
    warn(...args);
  };
  let Provider: typeof import('oidc-provider').default;
  try {
    Provider = (await import('oidc-provider')).default;
  } catch (err) {
    console.warn = warn;
    throw err;
  }

  let inboxHandler: (req: IncomingMessage, res: ServerResponse) => void = (_q, res) => res.writeHead(503).end();
  const inboxServer = await listen((req, res) => inboxHandler(req, res));
  let opHandler: (req: IncomingMessage, res: ServerResponse) => void = (_q, res) => res.writeHead(503).end();
  const opServer = await listen((req, res) => opHandler(req, res));
  const issuer = opServer.url;
  const inboxUrl = `${inboxServer.url}/approvals`;
  const clientSecret = randomBytes(24).toString('base64url');

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [`${inboxUrl}/callback`],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: { openid: ['sub'], profile: ['name', 'groups'], email: ['email'] },
    // The inbox reads the approver's groups from the ID token itself.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    ttl: { AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 300, IdToken: 300 },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    findAccount: (_ctx, sub) => {
      const user = USERS[sub];
      if (user === undefined) return undefined;
      return { accountId: sub, claims: () => ({ sub, name: user.name, groups: [...user.groups], email: `${sub}@example.com` }) };
    },
  });
  // The development keys, storage and login pages are what this test wants; their start-up warnings are noise.
  console.warn = warn;
  opHandler = provider.callback() as typeof opHandler;

  const sessionSecret = randomBytes(32).toString('base64url');
  const inbox = createApprovalsInbox({
    grantPolicy: approverPolicy(issuer),
    publicUrl: inboxUrl,
    oidc: { issuer, clientId: CLIENT_ID, clientSecret, scope: 'openid profile email' },
    sessionSecret,
    ...options,
  });
  inboxHandler = getRequestListener(inbox.fetch) as typeof inboxHandler;

  return {
    issuer,
    inboxUrl,
    origin: inboxServer.url,
    inbox,
    sessionSecret,
    async stop() {
      await Promise.all([close(inboxServer.server), close(opServer.server)]);
    },
  };
}
