/**
 * Offline verification of a delegation chain (RFC 8693 actors, UCAN-style embedded parents).
 *
 * A delegated capability carries its parent in `prt`, which carries its own, down to a root
 * granted by a trusted authority. Every link is checked from the root down: its signature (the
 * root's and any token exchange's by a trusted authority; an agent's by the key its parent
 * pinned in `cnf.jkt`), its times and claims, and the narrowing rules against its parent. The
 * prefix of a chain verified once is remembered until it expires, so children of an already
 * verified parent cost one signature.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { CapabilityError } from '../errors.js';
import { importPublicJwk, KEY_TYPE_OF, readEmbeddedKey } from '../jose/jwk.js';
import type { CapabilityClaims } from './claims.js';
import { checkLink } from './delegation-rules.js';
import {
  decodeCapability,
  explainJoseError,
  parseCapabilityClaims,
  type ChainContext,
  type ChainVerifier,
  type DecodedCapability,
  type VerifiedChain,
} from './verify.js';

const URL_KEY_HEADERS = ['jku', 'x5u', 'x5c'] as const;

export interface DecodedLink extends DecodedCapability {
  readonly token: string;
}

/**
 * The capability id of a delegated link, as store keys, spans, errors and `revokeCapability` use
 * it: the root's id (its `jti`, chosen by the authority), ".", and 22 base64url characters (132
 * bits) of the SHA-256 of the link's signed header and claims. Those claims embed the parent
 * token, so the digest commits to the whole chain; the signature is left out, so re-encoding a
 * signature cannot mint a fresh id (and a fresh budget) for the same link. The link's own `jti`,
 * which a delegating agent chooses, plays no part: no holder can pick an id that another
 * capability's keys use. A root's `jti` never contains ".", so a derived id never equals one.
 */
export function delegatedCapabilityId(rootId: string, token: string): string {
  const signingInput = token.slice(0, token.lastIndexOf('.'));
  return `${rootId}.${createHash('sha256').update(signingInput, 'latin1').digest('base64url').slice(0, 22)}`;
}

const invalid = (reason: string, cause?: unknown): never => {
  throw new CapabilityError('delegation_invalid', reason, cause === undefined ? undefined : { cause });
};

/**
 * Unpacks a chain without trusting it: root first, `token` last. Refuses a chain deeper than
 * `maxDepth` delegations before any signature work.
 */
export function decodeChain(token: string, maxDepth: number): DecodedLink[] {
  const links: DecodedLink[] = [];
  let current: unknown = token;
  for (;;) {
    if (typeof current !== 'string') return invalid(`link ${links.length} names a parent (prt) that is not a compact JWS`);
    const decoded = decodeCapability(current);
    links.push({ token: current, ...decoded });
    if (!('prt' in decoded.payload)) break;
    if (links.length > maxDepth) {
      return invalid(`the delegation chain is deeper than this verifier accepts (at most ${maxDepth} delegations below the root grant)`);
    }
    current = decoded.payload.prt;
  }
  links.reverse();
  if ('act' in links[0]!.payload) {
    invalid('link 0 names a delegating actor (act) but embeds no parent (prt); the chain must reach back to a root grant');
  }
  return links;
}

/** Re-labels a link's verification failure with the link's position; expiry keeps its own code. */
function atLink(i: number, err: unknown): never {
  const where = i === 0 ? 'link 0 (the root grant)' : `link ${i}`;
  if (err instanceof CapabilityError) {
    if (err.code === 'delegation_invalid') throw err;
    if (err.code === 'capability_expired') {
      throw new CapabilityError('capability_expired', `${where} of the delegation chain has expired; ask for a new delegation`, { cause: err });
    }
    return invalid(`${where}: ${err.reason}`, err);
  }
  return invalid(`${where} could not be verified`, err);
}

/** Verifies a link signed by the delegating agent with the key its parent pins (`cnf.jkt`). */
async function verifyAgentSigned(
  link: DecodedLink,
  parent: CapabilityClaims,
  i: number,
  ctx: ChainContext,
  keys: Map<string, KeyObject>,
): Promise<CapabilityClaims> {
  const { header } = link;
  const pinned = parent.cnf?.jkt;
  if (pinned === undefined) {
    return invalid(`link ${i} is signed by an agent key, but its parent binds no key (cnf); only the authority can delegate it (token exchange)`);
  }
  for (const h of URL_KEY_HEADERS) {
    if (h in header) invalid(`link ${i}'s header carries "${h}"; keys are never fetched from a token`);
  }
  const alg = typeof header.alg === 'string' ? header.alg : '';
  // Algorithms an agent may sign a delegation with: the ones our keys are (EdDSA, ES256).
  const keyType = KEY_TYPE_OF.get(alg);
  if (keyType === undefined) return invalid(`link ${i} is signed with an algorithm delegations may not use`);
  const read = readEmbeddedKey(header.jwk, keyType);
  if ('kind' in read) {
    switch (read.kind) {
      case 'not_an_object':
        return invalid(`link ${i}'s header jwk is not a key`);
      case 'private':
        return invalid(`link ${i}'s header jwk must be a public key`);
      case 'wrong_type':
        return invalid(`link ${i}'s key does not match its algorithm ${alg}`);
      case 'missing_member':
        return invalid(`link ${i}'s header jwk lacks "${read.member}"`);
    }
  }
  const thumbprint = read.thumbprint;
  // The embedded key is trusted only because the parent, already verified, pins its thumbprint.
  if (thumbprint !== pinned) {
    invalid(`link ${i} is signed by a key other than the one its parent binds (cnf.jkt); each link's signer must be the previous link's key holder`);
  }
  let key = keys.get(thumbprint);
  if (key === undefined) {
    try {
      key = importPublicJwk(read.jwk);
    } catch (err) {
      return invalid(`link ${i}'s header jwk is not a valid public key`, err);
    }
    if (keys.size >= 1000) keys.clear();
    keys.set(thumbprint, key);
  }
  const now = ctx.clock();
  let payload: unknown;
  try {
    const r = await jwtVerify(link.token, key, {
      algorithms: [alg],
      typ: link.header.typ as string,
      clockTolerance: ctx.clockSkewSec,
      currentDate: new Date(now),
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti'],
    });
    payload = r.payload;
  } catch (err) {
    return explainJoseError(err);
  }
  return parseCapabilityClaims(payload, now, ctx.clockSkewSec, ctx.maxLifetimeSec);
}

interface VerifiedPrefix {
  readonly links: readonly CapabilityClaims[];
  /** The earliest `exp` of the prefix, seconds. */
  readonly expiresAt: number;
}

export interface ChainVerifierOptions {
  /** Deepest chain accepted, counted in delegations below the root grant; default 3. */
  maxDepth?: number;
  /** Verified chain prefixes remembered; default 1000. */
  cacheSize?: number;
}

/** Builds the chain verifier a guard (or an authority doing token exchange) plugs into its capability verifier. */
export function createChainVerifier(options: ChainVerifierOptions = {}): ChainVerifier {
  const maxDepth = options.maxDepth ?? 3;
  if (!Number.isInteger(maxDepth) || maxDepth < 0 || maxDepth > 16) throw new RangeError('maxDelegationDepth must be an integer from 0 to 16');
  const cacheSize = options.cacheSize ?? 1000;
  const prefixes = new Map<string, VerifiedPrefix>();
  // An agent signs many children with one key: import it once, keyed by its thumbprint.
  const agentKeys = new Map<string, KeyObject>();

  const remembered = (token: string, ctx: ChainContext): VerifiedPrefix | undefined => {
    const hit = prefixes.get(token);
    if (hit !== undefined && ctx.clock() >= (hit.expiresAt + ctx.clockSkewSec) * 1000) {
      prefixes.delete(token);
      return undefined;
    }
    return hit;
  };
  const remember = (token: string, prefix: VerifiedPrefix): void => {
    if (prefixes.size >= cacheSize) {
      const oldest = prefixes.keys().next();
      if (!oldest.done) prefixes.delete(oldest.value);
    }
    prefixes.set(token, prefix);
  };

  return async (token: string, ctx: ChainContext): Promise<VerifiedChain> => {
    if (maxDepth === 0) invalid('the capability is delegated and this guard accepts no delegation (maxDelegationDepth is 0)');
    const links = decodeChain(token, maxDepth);
    // Start below the deepest ancestor already verified: its token embeds, signed, the exact prefix.
    let start = 0;
    let verified: CapabilityClaims[] = [];
    let expiresAt = Infinity;
    for (let i = links.length - 2; i >= 0; i--) {
      const hit = remembered(links[i]!.token, ctx);
      if (hit !== undefined) {
        verified = [...hit.links];
        expiresAt = hit.expiresAt;
        start = i + 1;
        break;
      }
    }
    for (let i = start; i < links.length; i++) {
      const link = links[i]!;
      let claims: CapabilityClaims;
      try {
        if (i === 0) {
          claims = await ctx.verifyAuthoritySigned(link.token);
        } else if ('jwk' in link.header) {
          claims = await verifyAgentSigned(link, verified[i - 1]!, i, ctx, agentKeys);
        } else {
          claims = await ctx.verifyAuthoritySigned(link.token);
        }
      } catch (err) {
        return atLink(i, err);
      }
      if (i > 0) {
        const parent = verified[i - 1]!;
        const why = checkLink(parent, claims, {
          link: i,
          signer: 'jwk' in link.header ? 'agent' : 'authority',
          agents: verified.map((l) => l.sub),
          ids: verified.map((l) => l.jti),
        });
        if (why !== undefined) invalid(why);
      }
      verified.push(claims);
      expiresAt = Math.min(expiresAt, claims.exp);
      if (i < links.length - 1) remember(link.token, { links: [...verified], expiresAt });
    }

    const rootId = verified[0]!.jti;
    const ids = links.map((l, i) => (i === 0 ? rootId : delegatedCapabilityId(rootId, l.token)));
    const ancestorLimits = new Map<string, ReadonlyMap<string, number>>();
    for (let i = 0; i < verified.length - 1; i++) {
      const perTool = new Map<string, number>();
      for (const [tool, grant] of Object.entries(verified[i]!.tools)) if (grant.maxCalls !== undefined) perTool.set(tool, grant.maxCalls);
      if (perTool.size > 0) ancestorLimits.set(ids[i]!, perTool);
    }
    return {
      ids,
      agents: verified.map((l) => l.sub),
      expiresAt,
      ancestorLimits,
      links: verified,
    };
  };
}
