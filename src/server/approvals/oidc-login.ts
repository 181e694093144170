/**
 * Approver sign-in with the organisation's OpenID provider: authorization code flow with PKCE
 * (S256), state and nonce, through `openid-client`. The provider's metadata is discovered once
 * and re-discovered after a failure, and every call to the provider has a deadline.
 */
import type * as OpenIdClient from 'openid-client';
import { DeadlineError, withDeadline } from '../authority/deadline.js';
import type { LoginState } from './session.js';

export interface OidcLoginConfig {
  /** The provider's issuer URL (https; plain http only on loopback). */
  issuer: string;
  clientId: string;
  /** Confidential clients authenticate with client_secret_basic; omit for a public client (PKCE only). */
  clientSecret?: string;
  /** Space-separated; `openid` is always asked for. Default `"openid profile email"`. */
  scope?: string;
  /** Deadline of each call to the provider (discovery, token), ms; default 5000. */
  timeoutMs?: number;
}

/** Claims an approver role may match, copied from the ID token into the session. Never the token itself. */
const ATTRIBUTE_CLAIMS = ['groups', 'roles', 'email', 'email_verified'] as const;

export interface SignedInApprover {
  readonly id: string;
  readonly issuer: string;
  readonly name: string;
  readonly attributes: Record<string, unknown>;
}

/** A provider call failed or timed out; the message never carries a code, token or secret. */
export class ApproverSignInError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApproverSignInError';
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK.has(url.hostname);
}

export interface OidcLogin {
  /** A fresh state, nonce and PKCE verifier, and the provider URL to send the browser to. */
  start(expiresAt: number): Promise<{ url: string; login: LoginState }>;
  /** Redeems the code in `callbackUrl`, checking state, nonce, PKCE and the ID token. */
  finish(callbackUrl: URL, login: LoginState): Promise<SignedInApprover>;
}

type Oidc = typeof OpenIdClient;
let loaded: Promise<Oidc> | undefined;
/** `openid-client` is an optional peer: loaded on the first sign-in, so the service runs without it. */
function loadOidc(): Promise<Oidc> {
  loaded ??= import('openid-client').catch((err: unknown) => {
    loaded = undefined;
    throw new ApproverSignInError(`the inbox needs the optional peer "openid-client" (v6): npm install openid-client${err instanceof Error ? ` (${err.message.split('\n')[0]})` : ''}`);
  });
  return loaded;
}

export function createOidcLogin(config: OidcLoginConfig, redirectUri: string): OidcLogin {
  const issuer = new URL(config.issuer);
  if (issuer.protocol !== 'https:' && !isLoopbackHttp(issuer)) {
    throw new TypeError('oidc.issuer must use https (plain http only on 127.0.0.1, localhost or [::1])');
  }
  const timeoutMs = config.timeoutMs ?? 5000;
  const scope = [...new Set(['openid', ...(config.scope ?? 'openid profile email').split(/\s+/).filter(Boolean)])].join(' ');
  let discovered: Promise<OpenIdClient.Configuration> | undefined;

  const configuration = (oidc: Oidc): Promise<OpenIdClient.Configuration> => {
    discovered ??= withDeadline('the OpenID provider (discovery)', timeoutMs, async () => {
      const auth = config.clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(config.clientSecret);
      const c = await oidc.discovery(issuer, config.clientId, undefined, auth, {
        timeout: Math.ceil(timeoutMs / 1000),
        ...(isLoopbackHttp(issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      c.timeout = Math.ceil(timeoutMs / 1000);
      return c;
    });
    // A failed discovery is not cached: the next sign-in tries again.
    discovered.catch(() => {
      discovered = undefined;
    });
    return discovered;
  };

  const fail = (what: string, err: unknown): never => {
    if (err instanceof DeadlineError) throw new ApproverSignInError(`${what}: the OpenID provider did not answer within ${timeoutMs} ms`);
    const code = typeof (err as { code?: unknown })?.code === 'string' ? ` (${(err as { code: string }).code})` : '';
    throw new ApproverSignInError(`${what}${code}`);
  };

  return {
    async start(expiresAt) {
      const oidc = await loadOidc();
      let c: OpenIdClient.Configuration;
      try {
        c = await configuration(oidc);
      } catch (err) {
        return fail('the OpenID provider could not be discovered', err);
      }
      const login: LoginState = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier(), expiresAt };
      const challenge = await oidc.calculatePKCECodeChallenge(login.verifier);
      const url = oidc.buildAuthorizationUrl(c, {
        redirect_uri: redirectUri,
        scope,
        response_type: 'code',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: login.state,
        nonce: login.nonce,
      });
      return { url: url.href, login };
    },

    async finish(callbackUrl, login) {
      const oidc = await loadOidc();
      let tokens: Awaited<ReturnType<typeof OpenIdClient.authorizationCodeGrant>>;
      try {
        const c = await configuration(oidc);
        tokens = await withDeadline('the OpenID provider (token)', timeoutMs, () =>
          oidc.authorizationCodeGrant(c, callbackUrl, {
            pkceCodeVerifier: login.verifier,
            expectedState: login.state,
            expectedNonce: login.nonce,
            idTokenExpected: true,
          }),
        );
      } catch (err) {
        return fail('sign-in failed: the provider response did not check out', err);
      }
      const claims = tokens.claims();
      if (claims === undefined || typeof claims.sub !== 'string' || claims.sub === '') throw new ApproverSignInError('sign-in failed: no ID token subject');
      const attributes: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const k of ATTRIBUTE_CLAIMS) if (claims[k] !== undefined) attributes[k] = claims[k];
      const name = [claims.name, claims.email, claims.sub].find((v): v is string => typeof v === 'string' && v !== '') ?? claims.sub;
      return { id: `${claims.iss}#${claims.sub}`, issuer: claims.iss, name: name.slice(0, 200), attributes };
    },
  };
}
