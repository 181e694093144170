/**
 * The store behind single use, call limits and revocation.
 *
 * Everything one guarded call needs from the store happens in one `reserve`, so that a store on
 * a network (Redis) costs one round trip per call and is atomic where it must be. Methods may
 * answer synchronously: the in-memory store does, and the guard then never waits on I/O.
 * Any throw or rejection from a store is a denial (`store_unavailable`): the guard fails closed.
 */

/** A revocation check: `key` is revoked for tokens issued at or before the stored time. */
export interface RevocationCheck {
  /** `cap:<id>`, `agent:<identity>` or `intent:<id>` (see `revocationKey`). */
  readonly key: string;
  /** When the token being checked was issued, in ms since the epoch. */
  readonly issuedAtMs: number;
}

export interface CounterIncrement {
  /** `calls:<capability id>:<tool>` (see `counterKey`). */
  readonly key: string;
  /** The call is refused when the count would exceed this. */
  readonly limit: number;
  /** The counter lives as long as the capability it counts for. */
  readonly ttlMs: number;
}

export interface OnceMarker {
  /** `pop:<capability id>:<proof jti>`, `approval:<id>`: refused if already present. */
  readonly key: string;
  readonly ttlMs: number;
}

export interface CredentialRegistration {
  readonly id: string;
  readonly ttlMs: number;
}

/** Everything one call asks of the store, applied all-or-nothing. */
export interface CallReservation {
  readonly revocations: readonly RevocationCheck[];
  readonly counters: readonly CounterIncrement[];
  readonly once: readonly OnceMarker[];
  readonly credentials: readonly CredentialRegistration[];
}

export type ReservationResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'revoked'; readonly key: string }
  | { readonly ok: false; readonly reason: 'limit'; readonly key: string; readonly limit: number }
  | { readonly ok: false; readonly reason: 'replay'; readonly key: string };

/** An amount added to a cumulative counter, e.g. records a tool read under an intent. */
export interface CounterAddition {
  /** `retrieval:<intent id length>:<intent id>:<tool>:records` or `:bytes` (see `retrievalKey`). */
  readonly key: string;
  /** A non-negative integer. */
  readonly amount: number;
  /** The addition is refused when the total would exceed this. */
  readonly limit: number;
  /** The counter lives at least this long from now; an addition never shortens its life. */
  readonly ttlMs: number;
}

export type AdditionResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly key: string; readonly limit: number; readonly total: number };

/** What consuming a call credential found: only `ok` lets the downstream act. */
export type CredentialState = 'ok' | 'spent' | 'revoked' | 'unknown';

type MaybePromise<T> = T | Promise<T>;

export interface TesseraStore {
  /**
   * In one atomic step: refuse if any revocation applies, if any once-marker exists or if any
   * counter would pass its limit; otherwise increment every counter, set every marker and
   * register every credential as live.
   */
  reserve(reservation: CallReservation): MaybePromise<ReservationResult>;
  /** Revokes `key` for every token issued at or before `atMs` (ms since the epoch); kept for `ttlMs`. */
  revoke(key: string, atMs: number, ttlMs: number): MaybePromise<void>;
  /**
   * Answers what `reserve` would answer for this reservation right now, and writes nothing.
   * Used for dry runs (asking the guard before asking a human). Optional for custom stores.
   */
  peek?(reservation: CallReservation): MaybePromise<ReservationResult>;
  /** Sets a single-use marker; false if it was already set. */
  consumeOnce(key: string, ttlMs: number): MaybePromise<boolean>;
  /** Moves a live credential to spent, atomically; reports what it found. */
  consumeCredential(id: string): MaybePromise<CredentialState>;
  /** Marks a credential revoked (kept until its ttl passes, so a late use reads as a replay). */
  revokeCredential(id: string, ttlMs: number): MaybePromise<void>;
  /**
   * In one atomic step: refuse if any counter's total plus its amount would exceed its limit
   * (reporting that counter's current total); otherwise add every amount. Used for the per-intent
   * retrieval bounds. Optional for custom stores: without it, a grant with such a bound denies.
   */
  addWithin?(additions: readonly CounterAddition[]): MaybePromise<AdditionResult>;
  /** Releases timers and connections the store owns. */
  close?(): MaybePromise<void>;
}

/**
 * The documented key names: `cap:<capability id>`, `agent:<identity>`, `intent:<intent id>`.
 * A capability id is never chosen by a holder (see `VerifiedCapability.id`) and uses only
 * letters, digits, `_`, `-` and `.`, so no id can reach into another key's name.
 */
export const revocationKey = {
  capability: (id: string): string => `cap:${id}`,
  agent: (identity: string): string => `agent:${identity}`,
  intent: (intentId: string): string => `intent:${intentId}`,
} as const;

/**
 * The per-intent retrieval counters of one tool. The intent id is length-prefixed: intent ids and
 * tool names may both hold ":", and no pair of them may name another pair's counter.
 */
export const retrievalKey = (intentId: string, tool: string, unit: 'records' | 'bytes'): string =>
  `retrieval:${intentId.length}:${intentId}:${tool}:${unit}`;
