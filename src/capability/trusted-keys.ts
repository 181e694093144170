/**
 * One trusted issuer's public keys, kept current.
 *
 * A key set given as a function or a URL is fetched again every `refreshIntervalMs`, so that a
 * key the authority withdraws stops being trusted within that interval, for tokens already
 * verified and cached as well as for new ones. A fetch that fails keeps the last good set until
 * it is `maxStaleMs` old; after that the issuer's capabilities are refused until a fetch
 * succeeds. Every fetch has a deadline and one fetch runs at a time, so a hung or failing source
 * never wedges later refreshes.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { JWKS } from '../jose/keys.js';
import { CapabilityError } from '../errors.js';
import { DeadlineError, withDeadline } from '../util/deadline.js';
import type { Clock } from '../util/time.js';

/** Key-set refresh settings of one trusted issuer. */
export interface KeyRefreshOptions {
  /** How often a key set given as a function or URL is fetched again, ms; default 300,000 (5 minutes). */
  refreshIntervalMs?: number;
  /**
   * How old the last good key set may grow while fetches fail, counted from the last successful
   * fetch, ms; default 900,000 (15 minutes). After that the issuer's capabilities are refused.
   */
  maxStaleMs?: number;
  /** Deadline of one fetch, ms; default 5,000. */
  fetchTimeoutMs?: number;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 300_000;
export const DEFAULT_MAX_STALE_MS = 900_000;
export const DEFAULT_FETCH_TIMEOUT_MS = 5_000;
/** A failed fetch is retried at most this often, so a down source is not hammered per call. */
const RETRY_AFTER_FAILURE_MS = 30_000;
/** A URL source is not refetched for an unknown kid more often than this: kids come from tokens. */
const UNKNOWN_KID_COOLDOWN_MS = 30_000;
const MAX_JWKS_BYTES = 1024 * 1024;

/** One imported public key of the set. */
export interface TrustedKey {
  /** Identifies the key material (kid, alg and public members): equal material, equal string. */
  readonly fingerprint: string;
  readonly kid: string;
  readonly alg: string | undefined;
  readonly key: KeyObject;
}

/** One version of an issuer's key set. A new object on every change. */
export interface KeySnapshot {
  readonly byKid: ReadonlyMap<string, readonly TrustedKey[]>;
  readonly fingerprints: ReadonlySet<string>;
}

export interface IssuerKeySet {
  readonly issuer: string;
  readonly algorithms: readonly string[];
  /** The set to use now without waiting, or undefined when it must be fetched first (see `ready`). */
  current(nowMs: number): KeySnapshot | undefined;
  /** The set to use now, fetching it first when due; throws a CapabilityError when there is none. */
  ready(nowMs: number): Promise<KeySnapshot>;
  /** The one key that may have signed a token with this header; refetches once on an unknown kid. */
  select(header: { kid?: unknown; alg?: unknown }, nowMs: number): Promise<TrustedKey>;
}

const fail = (reason: string): never => {
  throw new CapabilityError('capability_invalid', reason);
};

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

function importKeys(jwks: unknown): KeySnapshot {
  if (jwks === null || typeof jwks !== 'object' || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw new TypeError('the key set is not a JWKS ({ keys: [...] })');
  }
  const byKid = new Map<string, TrustedKey[]>();
  const fingerprints = new Set<string>();
  for (const jwk of (jwks as JWKS).keys as unknown[]) {
    if (jwk === null || typeof jwk !== 'object') continue;
    const j = jwk as Record<string, unknown>;
    // A key without a kid can never match a capability (every capability names its kid); a
    // symmetric or encryption key is never a signature key an issuer may use.
    if (typeof j.kid !== 'string' || j.kty === 'oct' || (j.use !== undefined && j.use !== 'sig')) continue;
    if (j.alg !== undefined && typeof j.alg !== 'string') continue;
    const pub: Record<string, unknown> = {};
    for (const m of PUBLIC_MEMBERS) if (typeof j[m] === 'string') pub[m] = j[m];
    let key: KeyObject;
    try {
      key = createPublicKey({ key: pub as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch {
      continue;
    }
    const fingerprint = JSON.stringify([j.kid, j.alg ?? null, pub]);
    const k: TrustedKey = Object.freeze({ fingerprint, kid: j.kid, alg: j.alg as string | undefined, key });
    fingerprints.add(fingerprint);
    const list = byKid.get(j.kid);
    if (list === undefined) byKid.set(j.kid, [k]);
    else list.push(k);
  }
  return Object.freeze({ byKid, fingerprints });
}

function sameSet(a: KeySnapshot, b: KeySnapshot): boolean {
  if (a.fingerprints.size !== b.fingerprints.size) return false;
  for (const f of a.fingerprints) if (!b.fingerprints.has(f)) return false;
  return true;
}

/** Whether a key of this type may verify this algorithm. */
function fits(key: KeyObject, alg: string): boolean {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  switch (alg) {
    case 'EdDSA':
      return type === 'ed25519' || type === 'ed448';
    case 'Ed25519':
      return type === 'ed25519';
    case 'ES256':
      return type === 'ec' && curve === 'prime256v1';
    case 'ES384':
      return type === 'ec' && curve === 'secp384r1';
    case 'ES512':
      return type === 'ec' && curve === 'secp521r1';
    default:
      return alg.startsWith('RS') ? type === 'rsa' : alg.startsWith('PS') ? type === 'rsa' || type === 'rsa-pss' : false;
  }
}

/**
 * A key source failure whose message is safe to show (it names no secret and quotes no token):
 * the reason of the resulting denial includes it.
 */
export class KeySourceError extends Error {}

/** Fetches a key set from a configured or discovered URL: no redirects, a deadline, a size bound. */
export async function fetchJwks(url: URL, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, { redirect: 'error', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new KeySourceError(`the key set URL answered ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_JWKS_BYTES) throw new KeySourceError('the key set is too large');
  return JSON.parse(text) as unknown;
}

export interface IssuerKeySetOptions extends KeyRefreshOptions {
  issuer: string;
  algorithms: readonly string[];
  jwks: JWKS | (() => JWKS | Promise<JWKS>) | URL;
  clock: Clock;
}

export function createIssuerKeySet(o: IssuerKeySetOptions): IssuerKeySet {
  const { issuer, algorithms, clock } = o;
  const refreshIntervalMs = o.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  const maxStaleMs = o.maxStaleMs ?? DEFAULT_MAX_STALE_MS;
  const fetchTimeoutMs = o.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const src = o.jwks;

  if (typeof src !== 'function' && !(src instanceof URL)) {
    // A key set given as an object never changes: imported once, always current.
    const fixed = importKeys(src);
    const selectFrom = (header: { kid?: unknown; alg?: unknown }): TrustedKey => pick(fixed, header) ?? noKey();
    return {
      issuer,
      algorithms,
      current: () => fixed,
      ready: () => Promise.resolve(fixed),
      select: (header) => Promise.resolve(selectFrom(header)),
    };
  }

  const source: () => unknown = src instanceof URL ? () => fetchJwks(src, fetchTimeoutMs) : src;
  let snapshot: KeySnapshot | undefined;
  let fetchedAt = -Infinity;
  let attemptedAt = -Infinity;
  let failedAt: number | undefined;
  let failure = 'failed';
  let inflight: Promise<void> | undefined;

  const usable = (now: number): boolean => snapshot !== undefined && now - fetchedAt < maxStaleMs;
  // The retry pause only spares a failing source while a last good set still serves; with no set
  // at all every call would be refused anyway, so the next call asks again (one fetch at a time),
  // and a source that failed once recovers at once.
  const failing = (now: number): boolean =>
    snapshot !== undefined && failedAt !== undefined && now - failedAt < Math.min(RETRY_AFTER_FAILURE_MS, refreshIntervalMs);

  const refresh = (): Promise<void> => {
    inflight ??= (async () => {
      attemptedAt = clock();
      try {
        const next = importKeys(await withDeadline(Promise.resolve().then(source), fetchTimeoutMs, `the key source of issuer "${issuer}"`));
        // An unchanged set keeps its snapshot, so cached capabilities skip their membership check.
        if (snapshot === undefined || !sameSet(snapshot, next)) snapshot = next;
        fetchedAt = clock();
        failedAt = undefined;
        failure = 'failed';
      } catch (err) {
        failedAt = clock();
        failure =
          err instanceof DeadlineError || (err instanceof Error && err.name === 'TimeoutError')
            ? `did not answer within ${fetchTimeoutMs} ms`
            : err instanceof KeySourceError
              ? `failed (${err.message})`
              : 'failed';
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  const unavailable = (): never => {
    const why = failure;
    return fail(
      snapshot === undefined
        ? `the key source of issuer "${issuer}" ${why}; its capabilities are refused until its keys can be fetched`
        : `the key source of issuer "${issuer}" ${why}, and its keys could not be refreshed for ${Math.round(maxStaleMs / 1000)}s; its capabilities are refused until they can be`,
    );
  };

  const current = (now: number): KeySnapshot | undefined => {
    if (snapshot === undefined) return undefined;
    if (now - fetchedAt < refreshIntervalMs) return snapshot;
    // Due, but the last attempt failed moments ago: keep the last good set while it may be used.
    if (failing(now) && usable(now)) return snapshot;
    return undefined;
  };

  const ready = async (now: number): Promise<KeySnapshot> => {
    const s = current(now);
    if (s !== undefined) return s;
    if (!failing(now) || inflight !== undefined) await refresh();
    const after = clock();
    if (snapshot !== undefined && after - fetchedAt < refreshIntervalMs) return snapshot;
    if (usable(after)) return snapshot!;
    return unavailable();
  };

  const select = async (header: { kid?: unknown; alg?: unknown }, now: number): Promise<TrustedKey> => {
    const s = await ready(now);
    const hit = pick(s, header);
    if (hit !== undefined) return hit;
    // An unknown kid may be a key the authority has just published: fetch once more. From a URL
    // only after a cooldown, since the kid comes from an untrusted token.
    const cooled = !(src instanceof URL) || clock() - attemptedAt >= UNKNOWN_KID_COOLDOWN_MS;
    if (cooled && typeof header.kid === 'string' && !s.byKid.has(header.kid)) {
      await refresh();
      if (snapshot !== undefined && usable(clock())) {
        const again = pick(snapshot, header);
        if (again !== undefined) return again;
      }
    }
    return noKey();
  };

  return { issuer, algorithms, current, ready, select };
}

function noKey(): never {
  return fail("the capability's signing key (kid) is not trusted by this guard: it is not in the issuer's current key set (unknown, or withdrawn by the issuer)");
}

function pick(s: KeySnapshot, header: { kid?: unknown; alg?: unknown }): TrustedKey | undefined {
  if (typeof header.kid !== 'string' || typeof header.alg !== 'string') return undefined;
  const alg = header.alg;
  const candidates = (s.byKid.get(header.kid) ?? []).filter((k) => (k.alg === undefined || k.alg === alg) && fits(k.key, alg));
  if (candidates.length > 1) fail("the capability's kid matches several trusted keys");
  return candidates[0];
}
