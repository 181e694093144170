/**
 * One guard, several identity sources: routes each token to the verifier that owns it, by its
 * unverified `iss` (OIDC) or its SPIFFE `sub` (JWT-SVID). Routing only picks a verifier; the
 * chosen verifier checks everything, so a token that lies about its issuer simply fails there.
 */
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { identityVerifierOption } from '../identity/options.js';
import { parseOptions } from '../util/options.js';
import { IdentityError } from './errors.js';
import type { AgentIdentity, IdentityVerifier } from './types.js';

export interface IdentityRouterOptions {
  /** Verifies tokens whose `sub` is a SPIFFE ID (and whose `iss`, if any, is not in `oidc`). */
  jwtSvid?: IdentityVerifier;
  /** OIDC verifiers keyed by their exact issuer. */
  oidc?: Record<string, IdentityVerifier>;
}

const optionsSchema = z.strictObject({
  jwtSvid: identityVerifierOption.optional(),
  oidc: z.record(z.string(), identityVerifierOption).optional(),
});

export function createIdentityRouter(options: IdentityRouterOptions): IdentityVerifier {
  parseOptions(optionsSchema, options, 'createIdentityRouter options');
  const oidc = new Map<string, IdentityVerifier>(Object.entries(options.oidc ?? {}));
  const svid = options.jwtSvid;
  if (svid === undefined && oidc.size === 0) throw new TypeError('createIdentityRouter needs jwtSvid or at least one oidc verifier');

  return {
    verify(token: string, verifyOptions?: { readonly signal?: AbortSignal }): Promise<AgentIdentity> {
      let claims: { iss?: unknown; sub?: unknown };
      try {
        claims = decodeJwt(token);
      } catch {
        return Promise.reject(new IdentityError('identity_invalid', 'the identity token is not a well-formed JWT'));
      }
      const byIssuer = typeof claims.iss === 'string' ? oidc.get(claims.iss) : undefined;
      if (byIssuer !== undefined) return byIssuer.verify(token, verifyOptions);
      if (svid !== undefined && typeof claims.sub === 'string' && claims.sub.startsWith('spiffe://')) return svid.verify(token, verifyOptions);
      return Promise.reject(new IdentityError('identity_invalid', "no identity verifier is configured for this token's issuer"));
    },
  };
}
