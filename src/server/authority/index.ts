/**
 * `tessera-guard/authority-server`: the authority as its own service. Needs the optional peer
 * `hono` (and `@hono/node-server` to run it standalone, as `tessera authority serve` does).
 */
export {
  createAuthorityServer,
  parseAuthorizationDetails,
  GRANT_ATTR,
  GRANT_SPAN,
  GRANT_TYPE_TOKEN_EXCHANGE,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_ID_TOKEN,
  TOKEN_TYPE_JWT,
  type AuthorityServer,
  type AuthorityServerOptions,
} from './server.js';
export { compileGrantPolicy, grantPolicySchema, type GrantCeiling, type GrantPolicy, type GrantRole } from './grant-policy.js';
export { OAuthError, type OAuthErrorCode } from './oauth-error.js';
export type { RateLimitOptions } from './rate-limit.js';
export { SignerError, type CapabilitySigner } from '../../capability/signer.js';
