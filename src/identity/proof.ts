/**
 * Proof of possession for capabilities bound to the agent's key (`cnf.jkt`).
 */
import type { VerifiedCapability } from '../capability/verify.js';
import type { CapabilityContext } from '../guard/types.js';
import { IdentityError } from './errors.js';

export type ProofChecker = (
  cap: VerifiedCapability,
  binding: CapabilityContext,
  call: { tool: string; callId: string; rawArgs: unknown; proof: string | undefined },
) => undefined | { jti: string; ttlMs: number } | Promise<undefined | { jti: string; ttlMs: number }>;

/** Refuses every capability bound to a key: used until a proof verifier is configured. */
export const refuseBoundCapabilities: ProofChecker = (cap) => {
  if (cap.confirmationJkt === undefined) return undefined;
  throw new IdentityError('proof_invalid', 'the capability is bound to a key (cnf) and no valid proof of possession was presented');
};
