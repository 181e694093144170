/**
 * Preflight: a dry run of the stages that need no human, so that a framework asks a person to
 * approve only a call the guard would otherwise let through.
 *
 * It runs capability resolution and verification, identity binding, scope and constraints,
 * revocation and call limits (only when the store offers a read-only `peek`), and policy. It
 * writes nothing: no counter is spent, no marker set, no credential minted, no approver asked,
 * no span recorded. Proof of possession is not checked (a proof is made for the call itself).
 *
 * A preflight answer is advice to the framework, never an authorization: the call still runs the
 * whole pipeline. If preflight says `allow` and policy then requires approval, the approver is
 * asked as usual; with framework approvals that finds no human decision and denies.
 */
import type { VerifiedCapability } from '../capability/verify.js';
import { type DenialCode, DENIAL_STANDARDS, isTesseraError, ToolDeniedError } from '../errors.js';
import { evaluatePolicies } from '../policy/evaluate.js';
import type { CallReservation, ReservationResult, TesseraStore } from '../store/types.js';
import { hashArguments, NotJsonError, randomId } from '../util/canonical.js';
import { callCounters, policyRequest, type GuardRuntime, type PreparedTool } from './pipeline.js';
import { revocationChecks } from './reservation.js';
import type { CapabilityBinding, CapabilityContext, PreflightDecision, PreflightOptions } from './types.js';

export type { PreflightDecision, PreflightOptions } from './types.js';

type Peek = (reservation: CallReservation) => ReservationResult | Promise<ReservationResult>;

const STAGE_FAILURE: Record<string, DenialCode> = {
  resolve: 'capability_missing',
  verify: 'capability_invalid',
  identity: 'identity_unavailable',
  scope: 'arguments_invalid',
  store: 'store_unavailable',
  policy: 'policy_error',
};

class PreflightDenial extends Error {
  constructor(
    readonly code: DenialCode,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export function checkPreflightOptions(options: PreflightOptions | undefined): number {
  if (options === undefined) return 1000;
  if (options === null || typeof options !== 'object') throw new TypeError('preflight: options must be an object');
  const t = options.timeoutMs ?? 1000;
  if (!Number.isFinite(t) || t <= 0 || t > 60_000) throw new RangeError('preflight: timeoutMs must be a positive number of ms up to 60000');
  return t;
}

/** A name no tool of this guard carries (a model may ask for anything): the call could not run. */
export function unknownToolDecision(name: string, options?: PreflightOptions): PreflightDecision {
  const reason = `this guard has no tool named ${JSON.stringify(name.slice(0, 128))}`;
  const denial = new ToolDeniedError('tool_not_granted', reason, { tool: name.slice(0, 128), callId: options?.callId ?? randomId() });
  return { decision: 'deny', tool: denial.tool, code: 'tool_not_granted', reason, policyIds: [], limitsChecked: false, denial };
}

/** Runs the dry run for one call of `tool`. Never throws for untrusted input; always answers. */
export async function preflightCall(rt: GuardRuntime, tool: PreparedTool, rawArgs: unknown, options?: PreflightOptions): Promise<PreflightDecision> {
  const timeoutMs = checkPreflightOptions(options);
  const callId = options?.callId ?? randomId();
  const state = { stage: 'resolve', cap: undefined as VerifiedCapability | undefined, policyIds: [] as readonly string[], limitsChecked: false };
  const deny = (code: DenialCode, reason: string): PreflightDecision => {
    const denial = new ToolDeniedError(code, reason, {
      tool: tool.name,
      callId,
      ...(state.cap ? { capabilityId: state.cap.id, intentId: state.cap.intent.id } : {}),
      policyIds: state.policyIds,
    });
    return { decision: 'deny', tool: tool.name, code, reason, policyIds: state.policyIds, limitsChecked: state.limitsChecked, denial };
  };

  try {
    return await stages(rt, tool, rawArgs, options, state, timeoutMs);
  } catch (err) {
    if (err instanceof PreflightDenial) return deny(err.code, err.reason);
    // Recognised across copies of the package, as the call itself does.
    if (isTesseraError(err) && Object.hasOwn(DENIAL_STANDARDS, err.code)) return deny(err.code as DenialCode, err.reason);
    // The cause may quote a secret (a store URL, a token fragment): only the stage is named.
    return deny(STAGE_FAILURE[state.stage] ?? 'capability_invalid', `the ${state.stage} stage failed during preflight`);
  }
}

/**
 * A deadline on what code the guard does not own answers with a promise (a JWKS fetch, an
 * identity provider, a store). A synchronous answer needs no timer, which keeps the common
 * in-process dry run cheap.
 */
function bounded<T>(value: T | Promise<T>, ms: number, stage: string): T | Promise<T> {
  // Any thenable gets the deadline, not only native promises: a custom store's could hang too.
  if (value === null || typeof value !== 'object' || typeof (value as { then?: unknown }).then !== 'function') return value;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PreflightDenial(STAGE_FAILURE[stage] ?? 'capability_invalid', `the ${stage} stage did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([Promise.resolve(value), deadline]).finally(() => clearTimeout(timer));
}

async function stages(
  rt: GuardRuntime,
  tool: PreparedTool,
  rawArgs: unknown,
  options: PreflightOptions | undefined,
  state: { stage: string; cap: VerifiedCapability | undefined; policyIds: readonly string[]; limitsChecked: boolean },
  timeoutMs: number,
): Promise<PreflightDecision> {
  const given = options?.capability ?? rt.currentBinding();
  const binding: CapabilityContext | undefined = typeof given === 'string' ? { capability: given } : given;
  if (binding === undefined || binding === null || typeof binding.capability !== 'string' || binding.capability === '') {
    throw new PreflightDenial('capability_missing', 'no capability is bound to this call');
  }

  state.stage = 'verify';
  const cap = rt.cached(binding.capability) ?? (await bounded(rt.verify(binding.capability), timeoutMs, 'verify'));
  state.cap = cap;

  state.stage = 'identity';
  const agent = await bounded(rt.bindIdentity(cap, binding), timeoutMs, 'identity');

  state.stage = 'scope';
  const grant = cap.tools.get(tool.name);
  if (grant === undefined) throw new PreflightDenial('tool_not_granted', `the capability for intent "${cap.intent.id}" does not grant "${tool.name}"`);
  const parsed = tool.input.safeParse(rawArgs);
  if (!parsed.success) throw new PreflightDenial('arguments_invalid', "the arguments do not match the tool's schema");
  const args = parsed.data as Record<string, unknown>;
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new PreflightDenial('arguments_invalid', "the tool's schema must produce an object of named arguments");
  }
  const violation = grant.check(args);
  if (violation !== undefined) throw new PreflightDenial('arguments_out_of_scope', `${violation} (intent "${cap.intent.id}")`);
  try {
    hashArguments(args);
  } catch (err) {
    if (err instanceof NotJsonError) throw new PreflightDenial('arguments_invalid', `the arguments are not JSON data: ${err.message}`);
    throw err;
  }

  state.stage = 'store';
  const nowMs = rt.clock();
  const peek = (rt.store as TesseraStore & { peek?: Peek }).peek;
  if (typeof peek === 'function') {
    const answer = await bounded(peek.call(rt.store, reservationFor(cap, tool.name, grant.maxCalls, nowMs, rt.clockSkewSec)), timeoutMs, 'store');
    state.limitsChecked = true;
    if (answer === null || typeof answer !== 'object') throw new Error('store peek answered nonsense');
    if (!answer.ok) {
      if (answer.reason === 'revoked') throw new PreflightDenial('capability_revoked', 'the capability was revoked; ask the authority for a new grant');
      if (answer.reason === 'limit') {
        throw new PreflightDenial('call_limit_exceeded', `"${tool.name}" may be called at most ${answer.limit} time(s) under this capability`);
      }
      throw new PreflightDenial('replay_detected', 'the store refused this call as a replay');
    }
  }

  state.stage = 'policy';
  const decision = await evaluatePolicies(rt.policy, policyRequest(rt, tool, cap, agent, args, nowMs), rt.policyTimeoutMs);
  state.policyIds = decision.policyIds;
  if (decision.effect === 'error') throw new PreflightDenial('policy_error', `${decision.reason}; the call would be denied (fail closed)`);
  if (decision.effect === 'deny') throw new PreflightDenial('policy_denied', decision.reason);
  return { decision: decision.effect, tool: tool.name, reason: decision.reason, policyIds: decision.policyIds, limitsChecked: state.limitsChecked };
}

/**
 * What the call's own reservation would check, minus the writes that only the call makes
 * (proof markers and credential registration). Counters are the call's own (`callCounters`).
 */
function reservationFor(cap: VerifiedCapability, tool: string, maxCalls: number | undefined, nowMs: number, clockSkewSec: number): CallReservation {
  return { revocations: revocationChecks(cap), counters: callCounters(cap, tool, maxCalls, nowMs, clockSkewSec), once: [], credentials: [] };
}
