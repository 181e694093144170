/**
 * What one guarded call asks of the store: the key names it checks and counts under, built from
 * the verified capability only. Every per-capability key embeds the capability id, which no
 * holder chooses (a root's `jti` from the authority, or an id derived from the chain), and every
 * such id starts with the root grant's id: one call's counters and revocations of capabilities
 * are all named under one root.
 */
import type { VerifiedCapability } from '../capability/verify.js';
import { shardPrefix } from '../store/shards.js';
import { revocationKey, type CallReservation, type RevocationCheck } from '../store/types.js';
import { randomId } from '../util/canonical.js';

/** `calls:<capability id>:<tool>`: ids have no ":", so the tool name cannot reach into the id. */
export const counterKey = (capabilityId: string, tool: string): string => `calls:${capabilityId}:${tool}`;

/** `pop:<capability id>:<proof jti>`: a proof's jti is the agent's choice, so it is kept under its capability. */
export const proofMarkerKey = (capabilityId: string, proofJti: string): string => `pop:${capabilityId}:${proofJti}`;

/** The root grant's id: a capability id up to its first "." (a root's jti has none). */
export const rootCapabilityId = (capabilityId: string): string => {
  const dot = capabilityId.indexOf('.');
  return dot < 0 ? capabilityId : capabilityId.slice(0, dot);
};

/**
 * A random id (22 base64url characters, 116 random bits) whose first two characters are in the
 * same shard as the call's root capability id, so that a store sharded by root (Redis Cluster)
 * finds the credential's marker from the credential alone, in the slot where the call's
 * reservation registered it. It says nothing about the root but its shard.
 */
export const credentialIdForRoot = (rootId: string): string => `${shardPrefix(rootId)}${randomId().slice(2)}`;

/** A new call credential id for a call under `cap` (see `credentialIdForRoot`). */
export const credentialIdFor = (cap: VerifiedCapability): string => credentialIdForRoot(rootCapabilityId(cap.id));

// The revocation keys of a capability never change: build them once per verified capability.
const REVOCATION_CHECKS = new WeakMap<VerifiedCapability, readonly RevocationCheck[]>();

/**
 * Revocation applies to every capability and every agent along the chain, and to the intent,
 * compared with the earliest issue time (ms) along the chain.
 */
export function revocationChecks(cap: VerifiedCapability): readonly RevocationCheck[] {
  let checks = REVOCATION_CHECKS.get(cap);
  if (checks === undefined) {
    const issuedAtMs = cap.issuedAtMs;
    checks = Object.freeze([
      ...cap.chain.ids.map((id) => ({ key: revocationKey.capability(id), issuedAtMs })),
      ...cap.chain.agents.map((a) => ({ key: revocationKey.agent(a), issuedAtMs })),
      { key: revocationKey.intent(cap.intent.id), issuedAtMs },
    ]);
    REVOCATION_CHECKS.set(cap, checks);
  }
  return checks;
}

/**
 * A delegated child's calls count against every ancestor's budget for the same tool too, so
 * delegation can never multiply a budget. Ancestor limits come from the verified chain. An
 * ancestor's counter lives as long as the ancestor itself: created by a shorter-lived child, it
 * would otherwise vanish with the child and hand the ancestor a fresh budget.
 */
export function withAncestorCounters(r: CallReservation, cap: VerifiedCapability, tool: string, nowMs: number, marginMs: number): CallReservation {
  const limits = cap.ancestorLimits;
  if (limits.size === 0) return r;
  const counters = [...r.counters];
  for (const [ancestorId, perTool] of limits) {
    const limit = perTool.get(tool);
    if (limit === undefined) continue;
    const expiresAt = cap.ancestorExpiresAt.get(ancestorId) ?? cap.chainExpiresAt;
    const ttlMs = Math.max(1000, expiresAt * 1000 - nowMs + marginMs);
    counters.push({ key: counterKey(ancestorId, tool), limit, ttlMs });
  }
  return { ...r, counters };
}
