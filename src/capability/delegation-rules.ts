/**
 * The narrowing rules for one link of a delegation chain: the same function decides when an
 * agent (or the authority) derives a child and when a guard verifies the chain, so the two can
 * never disagree about what a child may do.
 */
import type { ActorClaim, CapabilityClaims } from './claims.js';
import { toolsWithin } from './subsumption.js';

/** Who signed the link: the delegating agent's key, or a trusted authority (token exchange). */
export type LinkSigner = 'agent' | 'authority';

export interface LinkContext {
  /** 1 for the first delegation below the root grant. */
  readonly link: number;
  readonly signer: LinkSigner;
  /** Subjects of every earlier link, root first. */
  readonly agents: readonly string[];
  /** `jti` of every earlier link, root first. */
  readonly ids: readonly string[];
}

const audienceOf = (aud: string | string[]): string => (typeof aud === 'string' ? aud : aud.length === 1 ? aud[0]! : aud.join(' '));

function sameActor(a: ActorClaim | undefined, b: ActorClaim | undefined): boolean {
  for (let x = a, y = b; ; x = x.act, y = y!.act) {
    if (x === undefined || y === undefined) return x === y;
    if (x.sub !== y.sub) return false;
  }
}

/** The `act` a child of `parent` carries: its delegating agent, then the parent's own actors. */
export function actorFor(parent: CapabilityClaims): ActorClaim {
  return parent.act === undefined ? { sub: parent.sub } : { sub: parent.sub, act: parent.act };
}

/** Returns undefined when `child` is a valid narrowing of `parent`, otherwise why, naming the link and the rule. */
export function checkLink(parent: CapabilityClaims, child: CapabilityClaims, ctx: LinkContext): string | undefined {
  const at = `link ${ctx.link}`;
  if (ctx.signer === 'agent' && child.iss !== parent.sub) {
    return `${at} is issued by "${child.iss}" but its parent was granted to "${parent.sub}": each link's issuer must be the previous link's subject`;
  }
  if (child.act === undefined || !sameActor(child.act, actorFor(parent))) {
    return `${at} does not name its parent's subject "${parent.sub}" (and that link's actors) as the delegating actor (act)`;
  }
  const pa = audienceOf(parent.aud);
  const ca = audienceOf(child.aud);
  if (ca !== pa) return `${at} changes the audience from "${pa}" to "${ca}"`;
  if (child.intent.id !== parent.intent.id) {
    return `${at} changes the intent from "${parent.intent.id}" to "${child.intent.id}"; a delegation serves its parent's intent`;
  }
  if (child.exp > parent.exp) return `${at} extends expiry ${child.exp - parent.exp}s beyond its parent's`;
  if (child.sub === parent.sub || ctx.agents.includes(child.sub)) {
    return `${at} delegates to "${child.sub}", who already holds a link of this chain (cycle)`;
  }
  if (ctx.ids.includes(child.jti)) return `${at} reuses the capability id of an earlier link (cycle)`;
  const why = toolsWithin(child.tools, parent.tools);
  return why === undefined ? undefined : `${at} ${why}`;
}
