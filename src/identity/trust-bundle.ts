/**
 * A SPIFFE trust bundle for JWT-SVIDs: one JWKS per trust domain. Only keys with
 * `use: "jwt-svid"` and a `kid` count; unknown key types are ignored; an empty bundle trusts
 * nothing. A bundle from a file, a URL or a function is refreshed when its
 * `spiffe_refresh_hint` (or the configured interval) says so, and when a token names an unknown
 * `kid`, at most once per cooldown. A bundle that cannot be loaded or refreshed when due is
 * unavailable: verification fails closed (`identity_unavailable`). Every load, whatever its
 * source, has a deadline: a refresh shared by concurrent verifications settles by then, so a
 * source that hangs once cannot hold its trust domain hostage after it recovers.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import { withDeadline } from '../util/deadline.js';
import type { Clock } from '../util/time.js';
import { IdentityError } from './errors.js';

/** A bundle document as SPIRE publishes it: a JWKS, optionally with SPIFFE's extra members. */
export interface TrustBundleDocument {
  keys: JWK[];
  spiffe_refresh_hint?: number;
  spiffe_sequence?: number;
}

/**
 * Where a trust domain's bundle comes from: the document itself (never refreshed), a file path,
 * an HTTPS URL (an `http:` URL only on a loopback host), or a function returning the document
 * (its `signal` aborts when the load's deadline passes).
 */
export type TrustBundleSource =
  | TrustBundleDocument
  | URL
  | { file: string }
  | ((options: { readonly signal: AbortSignal }) => TrustBundleDocument | Promise<TrustBundleDocument>);

export interface TrustBundleOptions {
  /** Refresh interval when the bundle gives no `spiffe_refresh_hint`, seconds; default 300. */
  refreshIntervalSec: number;
  /** Least time between two refreshes prompted by unknown `kid`s or failures, seconds; default 30. */
  cooldownSec: number;
  /** Deadline of each load (URL, file or function), ms; default 5000. */
  timeoutMs: number;
  clock: Clock;
}

export interface BundleKey {
  readonly kid: string;
  readonly key: KeyObject;
  /** The key's own `alg`, when the bundle pins one. */
  readonly alg: string | undefined;
}

export interface TrustBundle {
  readonly trustDomain: string;
  /** The key with this `kid`, refreshing first if due; undefined when the bundle has no such key. */
  key(kid: string): Promise<BundleKey | undefined>;
}

const MAX_BUNDLE_BYTES = 1024 * 1024;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function isStaticBundle(source: TrustBundleSource): source is TrustBundleDocument {
  return typeof source === 'object' && source !== null && !(source instanceof URL) && 'keys' in source;
}

/** Checks a bundle source's shape at construction; a bad one throws naming the trust domain. */
export function checkBundleSource(trustDomain: string, source: TrustBundleSource): void {
  if (source instanceof URL) {
    if (source.protocol !== 'https:' && !(source.protocol === 'http:' && LOOPBACK.has(source.hostname))) {
      throw new TypeError(`trust bundle URL for ${trustDomain} must use https`);
    }
    return;
  }
  if (typeof source === 'function') return;
  if (typeof source === 'object' && source !== null) {
    if ('file' in source && typeof source.file === 'string' && source.file.length > 0) return;
    if ('keys' in source && Array.isArray(source.keys)) return;
  }
  throw new TypeError(`trust bundle for ${trustDomain} must be a JWKS object, a URL, { file } or a function`);
}

/** Keeps the usable keys: `use: "jwt-svid"`, a `kid`, an RSA or EC public key. */
function usableKeys(doc: unknown): Map<string, BundleKey> {
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) {
    throw new TypeError('the trust bundle is not a JWKS');
  }
  const keys = new Map<string, BundleKey>();
  const seen = new Set<string>();
  for (const jwk of (doc as { keys: unknown[] }).keys) {
    if (typeof jwk !== 'object' || jwk === null) continue;
    const k = jwk as JWK;
    if (k.use !== 'jwt-svid' || typeof k.kid !== 'string' || k.kid.length === 0) continue;
    if (k.kty !== 'RSA' && k.kty !== 'EC') continue;
    if (typeof k.d === 'string') continue;
    // Two keys under one kid make the choice ambiguous: trust neither.
    if (seen.has(k.kid)) {
      keys.delete(k.kid);
      continue;
    }
    seen.add(k.kid);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: k as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch {
      continue;
    }
    if (k.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) continue;
    keys.set(k.kid, Object.freeze({ kid: k.kid, key, alg: typeof k.alg === 'string' ? k.alg : undefined }));
  }
  return keys;
}

function refreshHint(doc: unknown): number | undefined {
  const hint = (doc as { spiffe_refresh_hint?: unknown }).spiffe_refresh_hint;
  return typeof hint === 'number' && Number.isFinite(hint) && hint > 0 ? hint : undefined;
}

async function fetchBundle(url: URL, signal: AbortSignal): Promise<unknown> {
  const res = await fetch(url, { signal, redirect: 'error', headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`trust bundle endpoint answered ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_BUNDLE_BYTES) throw new Error('trust bundle is too large');
  return JSON.parse(text);
}

async function read(source: Exclude<TrustBundleSource, TrustBundleDocument>, signal: AbortSignal): Promise<unknown> {
  if (source instanceof URL) return fetchBundle(source, signal);
  if (typeof source === 'function') return source({ signal });
  const text = await readFile(source.file, { encoding: 'utf8', signal });
  if (text.length > MAX_BUNDLE_BYTES) throw new Error('trust bundle is too large');
  return JSON.parse(text);
}

/** One load, settled by its deadline whatever the source does; the source's signal aborts then. */
function load(source: Exclude<TrustBundleSource, TrustBundleDocument>, timeoutMs: number): Promise<unknown> {
  const controller = new AbortController();
  const loading = read(source, controller.signal);
  const settled = withDeadline(loading, timeoutMs, 'the trust bundle source', (err) => controller.abort(err));
  // A source that settles after its deadline is ignored; its late rejection must not surface.
  loading.catch(() => {});
  return Promise.resolve(settled);
}

export function createTrustBundle(trustDomain: string, source: TrustBundleSource, options: TrustBundleOptions): TrustBundle {
  checkBundleSource(trustDomain, source);
  const { clock } = options;
  if (isStaticBundle(source)) {
    const keys = usableKeys(source);
    return { trustDomain, key: async (kid) => keys.get(kid) };
  }

  let keys: Map<string, BundleKey> | undefined;
  let nextRefreshAt = 0;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastFailed = false;
  let inflight: Promise<void> | undefined;

  const unavailable = (cause?: unknown): never => {
    throw new IdentityError(
      'identity_unavailable',
      `the trust bundle for "${trustDomain}" could not be loaded; JWT-SVIDs from it are refused until it can`,
      cause === undefined ? undefined : { cause },
    );
  };

  const refresh = (): Promise<void> => {
    inflight ??= (async () => {
      lastAttemptAt = clock();
      try {
        const doc = await load(source, options.timeoutMs);
        keys = usableKeys(doc);
        const every = Math.max(1, refreshHint(doc) ?? options.refreshIntervalSec);
        nextRefreshAt = clock() + every * 1000;
        lastFailed = false;
      } catch (err) {
        lastFailed = true;
        throw err;
      }
    })().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };

  const cooled = (): boolean => clock() - lastAttemptAt >= options.cooldownSec * 1000;

  return {
    trustDomain,
    async key(kid) {
      if (keys === undefined || clock() >= nextRefreshAt) {
        // A failed refresh is retried only after the cooldown; until then the bundle is unavailable.
        if (lastFailed && !cooled() && inflight === undefined) unavailable();
        try {
          await refresh();
        } catch (err) {
          unavailable(err);
        }
      }
      const hit = keys!.get(kid);
      if (hit !== undefined || !cooled()) return hit;
      try {
        await refresh();
      } catch (err) {
        unavailable(err);
      }
      return keys!.get(kid);
    },
  };
}
