/**
 * Tripwires: the guard acting on its own decisions. A canary tool called, a burst of denials for
 * one agent (counted across every process through the shared store), a capability presented to
 * the wrong audience or by the wrong identity, or a call rate far above the agent's recent one
 * trips a tripwire, and the tripwire stops the agent in the shared store (`revokeAgent`, or
 * `revokeIntent` for the intent alone), so that every guard on that store refuses it from its
 * next call. Each trip is a span event, a metric point, an `onTrip` call and, when configured, a
 * webhook signed as the approvals service signs its own. Only a person lifts the quarantine
 * (`liftQuarantine`, `tessera quarantine lift`, the authority's admin API).
 *
 * The engine knows nothing of the pipeline: it is fed plain decisions (`observe`) and asked about
 * each call that reaches an agent (`admit`), so that another enforcement point (a gateway) can
 * use it as the guard does. Only authenticated agents are ever stopped: an agent is named by a
 * capability whose signature verified, never by an unverified token, which anyone could forge to
 * get another agent quarantined.
 */
import { metrics, type Counter, type Meter, type Span } from '@opentelemetry/api';
import { z } from 'zod';
import { foreignAudienceSubject, type VerifiedCapability } from '../capability/verify.js';
import { CapabilityError, type DenialCode, DENIAL_CODES } from '../errors.js';
import { listQuarantines, tripQuarantine, hasTripwireState, type QuarantineRecord, type TripFacts, type TripwireKind, type TripwireStore, tripwireCountKey } from '../store/tripwire-state.js';
import type { TesseraStore } from '../store/types.js';
import { EVENT, METRIC } from '../telemetry/attributes.js';
import { withDeadline } from '../util/deadline.js';
import { durationOption, functionOption } from '../util/option-schemas.js';
import { parseOptions } from '../util/options.js';
import { sendSignedWebhook } from '../util/signed-webhook.js';
import { durationSeconds, type Clock, type Duration } from '../util/time.js';

export type { QuarantineRecord, TripwireKind } from '../store/tripwire-state.js';

/**
 * The denials a burst counts by default: the ones an agent earns by what it asks for. Failures of
 * the guard's dependencies (store, policy engine, identity provider, credential provider), an
 * expired capability, a call its own caller aborted and a human's silence are not the agent's
 * doing; `capability_revoked` is never counted, since every call of a stopped agent is one.
 */
export const DEFAULT_BURST_CODES: readonly DenialCode[] = Object.freeze([
  'tool_not_granted',
  'arguments_invalid',
  'arguments_out_of_scope',
  'call_limit_exceeded',
  'policy_denied',
  'approval_denied',
  'identity_invalid',
  'identity_mismatch',
  'proof_invalid',
  'replay_detected',
  'delegation_invalid',
]);

export interface TripwireOptions {
  /** Decoy tools no grant should cover: any call to one under a verified capability trips (refused `capability_revoked`), granted or not. */
  canaryTools?: readonly string[];
  /** At least `threshold` denials for one agent within `window` (which defaults to `"1m"`), across every guard on the store. */
  denialBurst?: { threshold: number; window?: Duration; codes?: readonly DenialCode[] };
  /** A capability whose signature and issuer verify, presented to a guard of another audience. */
  foreignAudience?: boolean;
  /** A capability presented by a workload identity other than its subject (`identity_mismatch`). */
  identityMismatch?: boolean;
  /**
   * A call rate far above the agent's recent rate, estimated in this process only: trips when the
   * rate over about `window` (`"10s"` unless given) reaches `minPerMinute` (600 unless given) and
   * is `factor` (10 unless given) times the rate over about `baseline` (`"10m"` unless given).
   */
  callRate?: { factor?: number; minPerMinute?: number; window?: Duration; baseline?: Duration };
  /** What a trip stops: every capability of the agent (default) or only the intent of the call that tripped. */
  stop?: 'agent' | 'intent';
  /**
   * When the store cannot count or record: `deny_agent` (default) holds the agent in this
   * process for `holdFor` (every call refused `capability_revoked`); `alert` reports and goes on.
   * Both call `onTrip` and send the webhook.
   */
  onStoreFailure?: 'deny_agent' | 'alert';
  /** How long a hold lasts in this process when the store failed; default `"5m"`. */
  holdFor?: Duration;
  /** Told of every trip (never waited for; errors ignored). */
  onTrip?: (trip: TripEvent) => void | Promise<void>;
  /** A webhook told of every trip, signed with HMAC-SHA256 in `X-Tessera-Signature` as the approvals service signs. */
  webhook?: { url: string; secret: string; attempts?: number; attemptTimeoutMs?: number; backoffMs?: number };
}

/** What one trip did. Never a token or arguments. */
export interface TripEvent extends TripFacts {
  /** `store`: every guard on the store refuses the agent; `local`: the store failed and this process holds it; `none`: the store failed, nothing stops it. */
  readonly stop: 'store' | 'local' | 'none';
  /** The quarantine record, when the store holds one. */
  readonly record: QuarantineRecord | undefined;
  /** The failure's class when the store failed (never its message). */
  readonly storeError: string | undefined;
}

/** One decision of an enforcement point, as the tripwires see it. */
export interface TripwireDecision {
  readonly outcome: 'deny';
  readonly code: DenialCode;
  /** The agent named by a verified capability; undefined when none verified. */
  readonly agent: string | undefined;
  readonly intent: string | undefined;
  readonly tool: string;
  /** The capability verified but names another audience (its `sub` is `agent`). */
  readonly foreignAudience?: boolean;
}

export interface TripwireEngine {
  /**
   * Asked for each call made under a verified capability, before anything is spent. Undefined:
   * go on (the common case, synchronous). A promise: this call trips (a canary, the call rate)
   * or the agent is held in this process; it rejects with a `capability_revoked` error once
   * the stop is written.
   */
  admit(agent: string, intent: string, tool: string, span?: Span): Promise<never> | undefined;
  /** Told of each denial; resolves once any trip it causes is written (within the store deadline). Never rejects. */
  observe(decision: TripwireDecision, span?: Span): Promise<void> | undefined;
  /** The quarantines the store holds. */
  quarantines(options?: { includeLifted?: boolean }): Promise<QuarantineRecord[]>;
}

/** What the engine needs from the enforcement point that hosts it. */
export interface TripwireHost {
  readonly store: TesseraStore;
  readonly clock: Clock;
  /** Names the host in records and events (a guard's audience). */
  readonly name: string;
  /** Added to the stop's time, ms, as `revokeAgent` does (the issuers' clock skew). */
  readonly aheadMs: number;
  /** How long a stop and its record are kept, ms: at least the longest lifetime of a token it refuses. */
  readonly keepMs: number;
  /** Deadline of each store operation, ms. */
  readonly storeTimeoutMs: number;
  readonly meter?: Meter | undefined;
}

const positive = z.number().positive();
export const tripwireOptionsSchema = z.strictObject({
  canaryTools: z.array(z.string().min(1).max(256)).max(1000).optional(),
  denialBurst: z
    .strictObject({
      threshold: z.number().int().min(2).max(10_000),
      window: durationOption.optional(),
      codes: z
        .array(z.enum(DENIAL_CODES.filter((c) => c !== 'capability_revoked') as [DenialCode, ...DenialCode[]], { error: 'must be denial codes (capability_revoked is never counted)' }))
        .min(1)
        .optional(),
    })
    .optional(),
  foreignAudience: z.boolean().optional(),
  identityMismatch: z.boolean().optional(),
  callRate: z
    .strictObject({
      factor: positive.min(1.5).max(1000).optional(),
      minPerMinute: positive.max(10_000_000).optional(),
      window: durationOption.optional(),
      baseline: durationOption.optional(),
    })
    .optional(),
  stop: z.enum(['agent', 'intent']).optional(),
  onStoreFailure: z.enum(['deny_agent', 'alert']).optional(),
  holdFor: durationOption.optional(),
  onTrip: functionOption<(trip: TripEvent) => void | Promise<void>>('a function told of each trip').optional(),
  webhook: z
    .strictObject({
      url: z.string().refine((u) => {
        try {
          const url = new URL(u);
          return url.protocol === 'https:' || (url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]'));
        } catch {
          return false;
        }
      }, 'must be an https URL (http only to loopback)'),
      secret: z.string().min(32, 'must be at least 32 characters'),
      attempts: z.number().int().min(1).max(10).optional(),
      attemptTimeoutMs: z.number().int().min(100).max(60_000).optional(),
      backoffMs: z.number().int().min(0).max(60_000).optional(),
    })
    .optional(),
});

const MAX_HOLDS = 10_000;
const MAX_RATE_AGENTS = 10_000;

/** One agent's call rate: two exponentially decaying averages, in calls per second. */
interface Rate {
  short: number;
  long: number;
  at: number;
}

/** Builds the tripwires; options are checked here (a bad one throws a TypeError or RangeError naming it). */
export function createTripwires(options: TripwireOptions, host: TripwireHost): TripwireEngine {
  parseOptions(tripwireOptionsSchema, options, 'tripwires');
  if (!hasTripwireState(host.store)) {
    throw new TypeError('tripwires need a store that keeps tripwire state (createMemoryStore or createRedisStore); the store given has no `tripwires`');
  }
  const store: TripwireStore = host.store;
  const { clock } = host;
  const canaries = options.canaryTools === undefined || options.canaryTools.length === 0 ? undefined : new Set(options.canaryTools);
  const burst = options.denialBurst;
  const burstWindowMs = burst === undefined ? 0 : durationSeconds(burst.window ?? '1m', 'tripwires.denialBurst.window') * 1000;
  const burstCodes = new Set<string>(burst?.codes ?? DEFAULT_BURST_CODES);
  const rate = options.callRate;
  const shortSec = rate === undefined ? 0 : durationSeconds(rate.window ?? '10s', 'tripwires.callRate.window');
  const longSec = rate === undefined ? 0 : durationSeconds(rate.baseline ?? '10m', 'tripwires.callRate.baseline');
  if (rate !== undefined && longSec < shortSec * 4) throw new RangeError('tripwires.callRate.baseline must be at least four times its window');
  const factor = rate?.factor ?? 10;
  const minPerSec = (rate?.minPerMinute ?? 600) / 60;
  const scope = options.stop ?? 'agent';
  const denyOnFailure = (options.onStoreFailure ?? 'deny_agent') === 'deny_agent';
  const holdMs = durationSeconds(options.holdFor ?? '5m', 'tripwires.holdFor') * 1000;
  const webhook = options.webhook;
  const delivery = { attempts: webhook?.attempts ?? 4, attemptTimeoutMs: webhook?.attemptTimeoutMs ?? 5000, backoffMs: webhook?.backoffMs ?? 500 };

  const holds = new Map<string, number>();
  const rates = new Map<string, Rate>();
  let trips: Counter | undefined;

  const isHeld = (agent: string, now: number): boolean => {
    const until = holds.get(agent);
    if (until === undefined) return false;
    if (until > now) return true;
    holds.delete(agent);
    return false;
  };
  const hold = (agent: string, now: number): void => {
    holds.delete(agent);
    if (holds.size >= MAX_HOLDS) {
      for (const [a, until] of holds) if (until <= now) holds.delete(a);
      // Still full: the oldest hold gives way, so that the newest suspect is the one held.
      if (holds.size >= MAX_HOLDS) holds.delete(holds.keys().next().value!);
    }
    holds.set(agent, now + holdMs);
  };

  const tell = (trip: TripEvent, span: Span | undefined): void => {
    span?.addEvent(EVENT.TRIPWIRE, { [EVENT.TRIPWIRE_KIND]: trip.tripwire, [EVENT.TRIPWIRE_STOP]: trip.stop });
    try {
      trips ??= (host.meter ?? metrics.getMeter('tessera', '0.1.0')).createCounter(METRIC.TRIPWIRE_TRIPS, {
        description: 'Tripwires tripped, by tripwire and by where the stop was written.',
        unit: '{trip}',
      });
      trips.add(1, { [EVENT.TRIPWIRE_KIND]: trip.tripwire, [EVENT.TRIPWIRE_STOP]: trip.stop });
    } catch {
      // A failing meter must not change a decision.
    }
    if (options.onTrip !== undefined) {
      try {
        const r = options.onTrip(trip) as unknown;
        if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') (r as PromiseLike<unknown>).then(undefined, () => undefined);
      } catch {
        // Ignored by contract: the hook only informs.
      }
    }
    if (webhook !== undefined) {
      const body = JSON.stringify({ type: 'tessera.tripwire.tripped', ...trip, record: trip.record ?? null, storeError: trip.storeError ?? null });
      void sendSignedWebhook(webhook.url, webhook.secret, body, delivery, clock, () => undefined, 'tripwire webhook');
    }
  };

  /** Stops the agent in the store; on failure holds it here or only reports, as configured. */
  const trip = async (kind: TripwireKind, reason: string, agent: string, intent: string | undefined, tool: string | undefined, span: Span | undefined): Promise<TripEvent> => {
    const atMs = Math.floor(clock());
    const base = { agent, tripwire: kind, reason, scope, intent, tool, by: host.name, atMs };
    let event: TripEvent;
    try {
      const written = await withDeadline(
        tripQuarantine(store, { ...base, stopAtMs: atMs + host.aheadMs, ttlMs: host.keepMs }),
        host.storeTimeoutMs,
        'the guard store',
      );
      event = { ...base, stop: 'store', record: written.record, storeError: undefined };
    } catch (err) {
      if (denyOnFailure) hold(agent, atMs);
      event = { ...base, stop: denyOnFailure ? 'local' : 'none', record: undefined, storeError: errorClass(err) };
    }
    tell(event, span);
    return event;
  };

  const refusal = (reason: string): CapabilityError => new CapabilityError('capability_revoked', reason);
  const refuse = (tripping: Promise<TripEvent>, what: string): Promise<never> =>
    tripping.then((t) => {
      throw refusal(`${what}; ${t.stop === 'none' ? 'the store could not record the stop' : 'the agent is quarantined until a person lifts it'}`);
    });

  /** Updates the agent's rate and answers whether it is now far above its baseline. */
  const rateTrips = (agent: string, now: number): boolean => {
    let r = rates.get(agent);
    if (r === undefined) {
      if (rates.size >= MAX_RATE_AGENTS) rates.delete(rates.keys().next().value!);
      r = { short: 0, long: 0, at: now };
      rates.set(agent, r);
    }
    const dt = Math.max(0, now - r.at) / 1000;
    r.short = r.short * Math.exp(-dt / shortSec) + 1 / shortSec;
    r.long = r.long * Math.exp(-dt / longSec) + 1 / longSec;
    r.at = now;
    return r.short >= minPerSec && r.short >= factor * r.long;
  };

  const countBurst = async (d: TripwireDecision, agent: string, span: Span | undefined): Promise<void> => {
    const now = Math.floor(clock());
    let n: number;
    try {
      n = await withDeadline(store.tripwires.countEvent(tripwireCountKey(agent, 'denials'), burst!.threshold, burstWindowMs, now), host.storeTimeoutMs, 'the guard store');
    } catch (err) {
      // Not knowing whether this is a burst: held here or reported, as configured.
      if (denyOnFailure) hold(agent, now);
      tell(
        { agent, tripwire: 'denial_burst', reason: 'the denial could not be counted: the store failed', scope, intent: d.intent, tool: d.tool, by: host.name, atMs: now, stop: denyOnFailure ? 'local' : 'none', record: undefined, storeError: errorClass(err) },
        span,
      );
      return;
    }
    if (n >= burst!.threshold) {
      await trip('denial_burst', `${n} denials within ${burstWindowMs / 1000} s (the last: ${d.code} for "${d.tool}")`, agent, d.intent, d.tool, span);
    }
  };

  return {
    admit(agent, intent, tool, span) {
      if (holds.size !== 0 && isHeld(agent, clock())) {
        span?.addEvent(EVENT.TRIPWIRE, { [EVENT.TRIPWIRE_KIND]: 'hold', [EVENT.TRIPWIRE_STOP]: 'local' });
        return Promise.reject(refusal('a tripwire holds this agent in this process (the shared store could not record the stop); a person must lift the quarantine'));
      }
      if (canaries !== undefined && canaries.has(tool)) {
        return refuse(trip('canary', `called the canary tool "${tool}"`, agent, intent, tool, span), `"${tool}" is a canary tool: calling it tripped a tripwire`);
      }
      if (rate !== undefined && rateTrips(agent, clock())) {
        rates.delete(agent);
        return refuse(trip('call_rate', `a call rate far above the agent's recent rate (at least ${factor} times, and ${Math.round(minPerSec * 60)} calls per minute or more)`, agent, intent, tool, span), 'the call rate tripped a tripwire');
      }
      return undefined;
    },

    observe(d, span) {
      const agent = d.agent;
      if (agent === undefined || d.code === 'capability_revoked') return undefined;
      if (d.foreignAudience === true) {
        return options.foreignAudience === true ? trip('foreign_audience', 'a capability granted for another audience was presented to this guard', agent, d.intent, d.tool, span).then(() => undefined) : undefined;
      }
      if (d.code === 'identity_mismatch' && options.identityMismatch === true) {
        return trip('identity_mismatch', 'the capability was presented by a workload identity other than its subject', agent, d.intent, d.tool, span).then(() => undefined);
      }
      if (burst !== undefined && burstCodes.has(d.code)) return countBurst(d, agent, span);
      return undefined;
    },

    quarantines: (o) => listQuarantines(store, clock(), o),
  };
}

function errorClass(err: unknown): string {
  if (err instanceof Error) return err.name;
  return 'NonError';
}

/** The two questions the guard's pipeline asks its tripwires. */
export interface GuardTripwires {
  /** After the capability verified, before anything is spent. */
  admit(cap: VerifiedCapability, tool: string, span: Span): Promise<never> | undefined;
  /** With each denial: the original error tells a capability refused only for its audience. */
  denied(code: DenialCode, cap: VerifiedCapability | undefined, tool: string, err: unknown, span: Span): Promise<void> | undefined;
}

/** The engine as the guard's pipeline uses it. */
export function guardTripwires(engine: TripwireEngine): GuardTripwires {
  return {
    admit: (cap, tool, span) => engine.admit(cap.subject, cap.intent.id, tool, span),
    denied(code, cap, tool, err, span) {
      if (cap !== undefined) return engine.observe({ outcome: 'deny', code, agent: cap.subject, intent: cap.intent.id, tool }, span);
      const foreign = code === 'capability_invalid' ? foreignAudienceSubject(err) : undefined;
      if (foreign === undefined) return undefined;
      return engine.observe({ outcome: 'deny', code, agent: foreign, intent: undefined, tool, foreignAudience: true }, span);
    },
  };
}
