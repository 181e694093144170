/**
 * "Once per agent context": an agent runtime can present its identity token and its prover once,
 * around everything the agent does, instead of with every capability it holds. A capability
 * binding's own `identity` or `prover` wins over the agent context's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CapabilityContext, ProofSigner } from '../identity/types.js';

/** Who the agent is and how it proves key possession, for every guarded call inside. */
export interface AgentPresentation {
  /** An identity token (JWT-SVID or OIDC) for the agent. */
  identity?: string;
  /** Signs proofs of possession for capabilities bound to the agent's key. */
  prover?: ProofSigner;
}

export function createAgentContext() {
  const als = new AsyncLocalStorage<AgentPresentation>();
  return {
    run<T>(agent: AgentPresentation, fn: () => T): T {
      if (agent === null || typeof agent !== 'object') throw new TypeError('withAgent needs { identity?, prover? }');
      if (agent.identity !== undefined && (typeof agent.identity !== 'string' || agent.identity === '')) {
        throw new TypeError('withAgent: identity must be a non-empty token string');
      }
      if (agent.prover !== undefined && typeof agent.prover?.prove !== 'function') throw new TypeError('withAgent: prover must have prove()');
      const frozen: AgentPresentation = Object.freeze({
        ...(agent.identity === undefined ? {} : { identity: agent.identity }),
        ...(agent.prover === undefined ? {} : { prover: agent.prover }),
      });
      return als.run(frozen, fn);
    },
    /** The binding with the agent context's identity and prover filled in where it has none. */
    complete(binding: CapabilityContext): CapabilityContext {
      if (binding.identity !== undefined && binding.prover !== undefined) return binding;
      const agent = als.getStore();
      if (agent === undefined) return binding;
      const identity = binding.identity ?? agent.identity;
      const prover = binding.prover ?? agent.prover;
      return {
        capability: binding.capability,
        ...(identity === undefined ? {} : { identity }),
        ...(prover === undefined ? {} : { prover }),
      };
    },
  };
}
