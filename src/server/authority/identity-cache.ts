/**
 * Identities already proven by a token: the authority sees the same JWT-SVID or OIDC token on
 * every request an agent makes until it expires, and verifying its signature again each time
 * is most of a grant's cost. Keyed by a SHA-256 of the token, so a full cache holds 32 bytes a
 * token rather than the token itself, and no token is kept in memory past its request.
 */
import { createHash } from 'node:crypto';
import type { AgentIdentity } from '../../identity/types.js';
import type { Clock } from '../../util/time.js';

export interface IdentityCache {
  /** The identity this token proved, while its proof and the cache's own bound both hold. */
  get(token: string): AgentIdentity | undefined;
  /** Remembers a verified identity; one without `expiresAt` is not kept, as nothing bounds it. */
  set(token: string, identity: AgentIdentity): void;
}

interface Entry {
  readonly identity: AgentIdentity;
  readonly until: number;
}

const digest = (token: string): string => createHash('sha256').update(token).digest('base64url');

export function createIdentityCache(options: { clock: Clock; maxAgeMs: number; size: number }): IdentityCache {
  const { clock, maxAgeMs, size } = options;
  if (maxAgeMs <= 0) return { get: () => undefined, set: () => undefined };
  const entries = new Map<string, Entry>();
  return {
    get(token) {
      const key = digest(token);
      const e = entries.get(key);
      if (e === undefined) return undefined;
      if (clock() >= e.until) {
        entries.delete(key);
        return undefined;
      }
      return e.identity;
    },
    set(token, identity) {
      const exp = identity.expiresAt;
      if (typeof exp !== 'number' || !Number.isFinite(exp)) return;
      const now = clock();
      const until = Math.min(exp, now + maxAgeMs);
      if (until <= now) return;
      const key = digest(token);
      entries.delete(key);
      // Oldest first: a Map iterates in insertion order.
      while (entries.size >= size) entries.delete(entries.keys().next().value!);
      entries.set(key, { identity, until });
    },
  };
}
