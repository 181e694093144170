/**
 * Stage 3 of the pipeline: the capability's subject must be the verified identity running the
 * call. Verified identities are cached per token until they expire.
 */
import type { VerifiedCapability } from '../capability/verify.js';
import { withDeadline } from '../util/deadline.js';
import type { Clock } from '../util/time.js';
import { IdentityError } from '../identity/errors.js';
import type { AgentIdentity, CapabilityContext, IdentityVerifier } from '../identity/types.js';

export interface IdentityBindingOptions {
  verifier: IdentityVerifier | undefined;
  requireIdentity: boolean;
  clock: Clock;
  /** How long an identity verifier may take, ms; past it the call is `identity_unavailable`. Default 10,000. */
  timeoutMs?: number;
  cacheSize?: number;
}

export function createIdentityBinder(options: IdentityBindingOptions) {
  const cache = new Map<string, AgentIdentity>();
  const max = options.cacheSize ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const asserted = new WeakMap<VerifiedCapability, AgentIdentity>();

  // A verified identity is answered synchronously from the cache: no await on the common path.
  const cachedIdentity = (token: string): AgentIdentity | undefined => {
    const hit = cache.get(token);
    if (hit === undefined) return undefined;
    if (hit.expiresAt === undefined || hit.expiresAt > options.clock()) return hit;
    cache.delete(token);
    return undefined;
  };

  const matches = (cap: VerifiedCapability, identity: AgentIdentity): AgentIdentity => {
    if (identity.id !== cap.subject) {
      throw new IdentityError(
        'identity_mismatch',
        `the capability was granted to "${cap.subject}" but the call runs as "${identity.id}"`,
      );
    }
    return identity;
  };

  const verified = async (token: string): Promise<AgentIdentity> => {
    if (options.verifier === undefined) {
      throw new IdentityError('identity_invalid', 'an identity token was presented but this guard has no identity verifier configured');
    }
    let identity: AgentIdentity;
    // Verification runs only on a cache miss, so an AbortController here is not on the hot path.
    const controller = new AbortController();
    try {
      identity = await withDeadline(options.verifier.verify(token, { signal: controller.signal }), timeoutMs, 'the identity verifier', (err) =>
        controller.abort(err),
      );
    } catch (err) {
      if (err instanceof IdentityError) throw err;
      if (controller.signal.aborted) {
        throw new IdentityError(
          'identity_unavailable',
          `the identity verifier did not answer within ${timeoutMs} ms; identity tokens are refused until it answers`,
          { cause: err },
        );
      }
      throw new IdentityError('identity_unavailable', "the agent's identity could not be verified", { cause: err });
    }
    if (identity === null || typeof identity !== 'object' || typeof identity.id !== 'string' || identity.id === '') {
      throw new IdentityError('identity_unavailable', 'the identity verifier returned no identity');
    }
    if (cache.size >= max) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(token, identity);
    return identity;
  };

  return (cap: VerifiedCapability, binding: CapabilityContext): AgentIdentity | Promise<AgentIdentity> => {
    if (binding.identity === undefined) {
      if (options.requireIdentity) {
        throw new IdentityError('identity_invalid', 'this guard requires the agent runtime to present a verified identity (JWT-SVID or OIDC token)');
      }
      let a = asserted.get(cap);
      if (a === undefined) {
        a = Object.freeze({ id: cap.subject, source: 'asserted' as const });
        asserted.set(cap, a);
      }
      return a;
    }
    const hit = cachedIdentity(binding.identity);
    if (hit !== undefined) return matches(cap, hit);
    return verified(binding.identity).then((identity) => matches(cap, identity));
  };
}
