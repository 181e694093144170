/**
 * What an agent runtime signs when it makes a proof itself (rather than handing the guard a
 * prover): the same hashes the guard recomputes, so the two sides cannot drift.
 */
import { createHash } from 'node:crypto';
import type { ProofBinding } from './types.js';
import { hashArguments } from '../util/canonical.js';

export interface ProofBindingInput {
  /** The capability token the call runs under. */
  capability: string;
  tool: string;
  callId: string;
  /** The arguments exactly as they will be passed to the tool. */
  args: unknown;
  /** The guard's audience. */
  audience: string;
}

/** Builds the `ProofBinding` for one call; sign it with `agentKey.prove(binding)`. */
export function createProofBinding(input: ProofBindingInput): ProofBinding {
  return {
    tool: input.tool,
    callId: input.callId,
    argsHash: hashArguments(input.args),
    capabilityHash: createHash('sha256').update(input.capability).digest('base64url'),
    audience: input.audience,
  };
}
