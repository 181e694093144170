/**
 * What the evidence says about one argument across many calls, folded in constant space per
 * argument: the hosts, the common directory, the email domains, the number range, the granted
 * values that were used. Each set is capped: past the cap the fold only remembers that it
 * overflowed, and no constraint is derived from it.
 */
import { posix } from 'node:path';
import type { Scalar } from '../capability/constraints.js';
import { evidenceHash } from '../telemetry/evidence.js';
import type { Shape } from './observed-call.js';

/** Most distinct hosts, domains or schemes a fold keeps before it gives up on them. */
export const SET_CAP = 256;
/** Most distinct hashed values counted per capability ("used 2 addresses"). */
export const DISTINCT_CAP = 1000;
/**
 * Most capabilities whose distinct values are counted at once, per argument. Calls of one task
 * come together, so the oldest is usually done; one that comes back is counted afresh, and the
 * figure reported is then a lower bound.
 */
const CAPABILITY_CAP = 64;
/** An array shape lists at most this many items; a longer array was not seen whole. */
const EVIDENCE_ITEMS = 16;

class CappedSet<T> {
  readonly values = new Set<T>();
  overflow = false;
  add(v: T): void {
    if (this.overflow || this.values.has(v)) return;
    if (this.values.size >= SET_CAP) {
      this.overflow = true;
      this.values.clear();
      return;
    }
    this.values.add(v);
  }
}

/** Deepest directory holding both (both absolute, normalised). */
function commonDir(a: string, b: string): string {
  if (a === b) return a;
  const x = a.split('/');
  const y = b.split('/');
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  const joined = x.slice(0, i).join('/');
  return joined === '' ? '/' : joined;
}


export interface GrantedValues {
  /** The recorded grant's `in` list (or its `eq` as a list of one). */
  readonly values: readonly Scalar[];
}

export class ArgFold {
  /** Calls in which the argument was present. */
  present = 0;
  readonly kinds = new Set<Shape['t']>();
  readonly hosts = new CappedSet<string>();
  readonly schemes = new CappedSet<string>();
  readonly domains = new CappedSet<string>();
  /** Common directory of every path seen; undefined before the first. */
  dir: string | undefined;
  relative = false;
  minNumber = Infinity;
  maxNumber = -Infinity;
  readonly numbers = new CappedSet<number>();
  readonly booleans = new Set<boolean>();
  maxLength = 0;
  /** Every array was short enough that the evidence listed all of its items. */
  arraysWhole = true;
  items: ArgFold | undefined;
  /** Indexes into the granted values that a call used. */
  readonly usedGranted = new Set<number>();
  /** A value that is none of the granted ones, or one the evidence cannot tell apart. */
  unmatched = false;
  /** Distinct hashed values per capability, for the report; the largest count seen so far. */
  private readonly perCapability = new Map<string, Set<string>>();
  private distinctDone = 0;
  /** Hash → granted-value index, for the capability whose calls came last. */
  private lookupCap: string | undefined;
  private lookup: Map<string, number> | undefined;

  constructor(
    private readonly name: string,
    private readonly granted: GrantedValues | undefined,
  ) {}

  /** The largest number of distinct strings one capability passed (counted by hash). */
  get distinctPerCapability(): number {
    let n = this.distinctDone;
    for (const s of this.perCapability.values()) n = Math.max(n, s.size);
    return n;
  }

  add(shape: Shape, capabilityId: string | undefined): void {
    this.present++;
    this.kinds.add(shape.t);
    switch (shape.t) {
      case 'url':
        this.hosts.add(shape.host);
        this.schemes.add(shape.scheme);
        this.matchWhere((v) => typeof v === 'string' && urlOf(v, shape.scheme, shape.host));
        break;
      case 'email':
        this.domains.add(shape.domain);
        this.count(capabilityId, shape.h);
        this.matchHash(capabilityId, shape.h);
        break;
      case 'path':
        if (!shape.dir.startsWith('/')) this.relative = true;
        else this.dir = this.dir === undefined ? shape.dir : commonDir(this.dir, shape.dir);
        this.matchWhere((v) => typeof v === 'string' && v.startsWith('/') && posix.dirname(posix.normalize(v)) === shape.dir);
        break;
      case 'string':
        this.maxLength = Math.max(this.maxLength, shape.len);
        this.count(capabilityId, shape.h);
        this.matchHash(capabilityId, shape.h);
        break;
      case 'number':
        this.minNumber = Math.min(this.minNumber, shape.v);
        this.maxNumber = Math.max(this.maxNumber, shape.v);
        this.numbers.add(shape.v);
        this.matchWhere((v) => v === shape.v);
        break;
      case 'boolean':
        this.booleans.add(shape.v);
        this.matchWhere((v) => v === shape.v);
        break;
      case 'array':
        this.maxLength = Math.max(this.maxLength, shape.len);
        if (shape.len > shape.items.length || shape.items.length > EVIDENCE_ITEMS) this.arraysWhole = false;
        this.items ??= new ArgFold(this.name, undefined);
        for (const item of shape.items) this.items.add(item, capabilityId);
        this.unmatched = true;
        break;
      case 'object':
      case 'null':
        this.unmatched = true;
        break;
    }
  }

  private count(capabilityId: string | undefined, h: string): void {
    if (capabilityId === undefined) return;
    let set = this.perCapability.get(capabilityId);
    if (set === undefined) {
      if (this.perCapability.size >= CAPABILITY_CAP) {
        // Oldest first: calls of one task come together, so the first capability is done.
        const [first, oldest] = this.perCapability.entries().next().value as [string, Set<string>];
        this.distinctDone = Math.max(this.distinctDone, oldest.size);
        this.perCapability.delete(first);
      }
      set = new Set();
      this.perCapability.set(capabilityId, set);
    }
    if (set.size < DISTINCT_CAP) set.add(h);
  }

  /** Marks the granted values whose hash under this capability is `h`. */
  private matchHash(capabilityId: string | undefined, h: string): void {
    if (this.granted === undefined) return;
    if (capabilityId === undefined) {
      this.unmatched = true;
      return;
    }
    if (this.lookupCap !== capabilityId || this.lookup === undefined) {
      this.lookup = new Map();
      this.granted.values.forEach((v, i) => {
        if (typeof v === 'string') this.lookup!.set(evidenceHash(capabilityId, this.name, v), i);
      });
      this.lookupCap = capabilityId;
    }
    const i = this.lookup.get(h);
    if (i === undefined) this.unmatched = true;
    else this.usedGranted.add(i);
  }

  /**
   * Marks every granted value that could be the one used. The evidence of a URL or a path keeps
   * only the host or the directory, so each granted value with that host or directory counts as
   * used: the narrowed list may keep a value never passed, never drop one that was.
   */
  private matchWhere(test: (v: Scalar) => boolean): void {
    if (this.granted === undefined) return;
    let any = false;
    this.granted.values.forEach((v, i) => {
      if (test(v)) {
        this.usedGranted.add(i);
        any = true;
      }
    });
    if (!any) this.unmatched = true;
  }
}

function urlOf(value: string, scheme: string, host: string): boolean {
  if (!value.includes('://')) return false;
  try {
    const u = new URL(value);
    return u.protocol === `${scheme}:` && (u.hostname === host || u.host === host);
  } catch {
    return false;
  }
}
