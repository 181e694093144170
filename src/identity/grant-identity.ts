/**
 * The authority's side of binding: before granting, it can ask to see a valid identity token
 * for the agent, and then the capability's `sub` is exactly that verified identity.
 */
import { CapabilityError } from '../errors.js';
import { IdentityError } from './errors.js';
import type { IdentityVerifier } from './types.js';

export interface GrantIdentityOptions {
  verifier: IdentityVerifier | undefined;
  /** Refuse grants that come without an agent token. */
  require: boolean;
}

/** Validates the authority's identity options once, at construction. */
export function grantIdentityChecker(options: GrantIdentityOptions) {
  const { verifier, require } = options;
  if (verifier !== undefined && (typeof verifier !== 'object' || verifier === null || typeof verifier.verify !== 'function')) {
    throw new TypeError('identity must be an IdentityVerifier (an object with verify)');
  }
  if (require && verifier === undefined) throw new TypeError('requireAgentToken needs an identity verifier');

  return async (agent: string, agentToken: string | undefined): Promise<void> => {
    if (agentToken === undefined) {
      if (require) {
        throw new CapabilityError('identity_invalid', "grant refused: this authority grants only to agents that present an identity token (agentToken)");
      }
      return;
    }
    if (verifier === undefined) {
      throw new CapabilityError('grant_invalid', 'grant refused: an agentToken was given but this authority has no identity verifier configured');
    }
    let id: string;
    try {
      id = (await verifier.verify(agentToken)).id;
    } catch (err) {
      if (err instanceof IdentityError) throw new CapabilityError(err.code, `grant refused: ${err.reason}`, { cause: err });
      throw new CapabilityError('identity_unavailable', "grant refused: the agent's identity could not be verified", { cause: err });
    }
    if (id !== agent) {
      throw new CapabilityError('identity_mismatch', `grant refused: the agent token proves "${id}", not "${agent}"`);
    }
  };
}
