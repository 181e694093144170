/**
 * One guarded call as a sequence of named stages. `authorize` runs the stages that decide
 * whether the call may run at all; `execute` mints the call's credential, runs the tool and
 * revokes the credential. Every stage fails closed: a thrown error, a passed deadline or an
 * unreachable store becomes a denial with the stage's own code, and the tool's implementation
 * never runs. Every call into code the guard does not own has a deadline, started only when that
 * code answers with a promise (a synchronous answer needs no timer). Stages are awaited plainly:
 * skipping the `await` of a synchronous answer saved nothing measurable (see bench/README.md).
 */
import { context, type Context, type Span } from '@opentelemetry/api';
import type { z } from 'zod';
import type { RetrievalBound } from '../capability/claims.js';
import type { VerifiedCapability } from '../capability/verify.js';
import { CREDENTIAL_MARGIN_SEC } from '../credentials/call-credential.js';
import type { Credential, CredentialProvider, CredentialRequest } from '../credentials/types.js';
import { type AnyTesseraError, DENIAL_STANDARDS, type DenialCode, isTesseraError, safeCause, standardsTags, ToolDeniedError } from '../errors.js';
import type { AgentIdentity } from '../identity/types.js';
import { APPROVAL_MARKER_TTL_MS, askApproval, previewArguments } from '../policy/approval.js';
import { evaluatePolicies, type LayeredDecision } from '../policy/evaluate.js';
import type { Approver, PolicyEngine, PolicyRequest, RiskTier } from '../policy/types.js';
import type { AdditionResult, CallReservation, CounterIncrement, CredentialRegistration, ReservationResult, TesseraStore } from '../store/types.js';
import { ATTR, OPERATION_EXECUTE_TOOL } from '../telemetry/attributes.js';
import { evidenceAttribute } from '../telemetry/evidence.js';
import type { Recorder } from '../telemetry/recorder.js';
import { hashArguments, NotJsonError, randomId } from '../util/canonical.js';
import { DeadlineError, LazySignal, withDeadline } from '../util/deadline.js';
import { SnapshotError, snapshotArguments } from '../util/snapshot.js';
import type { Clock } from '../util/time.js';
import type { DecisionLog } from '../telemetry/decision-log/log.js';
import { logDecision } from './decision-record.js';
import { counterKey, credentialIdFor, proofMarkerKey, revocationChecks, withAncestorCounters } from './reservation.js';
import type { GuardTripwires } from './tripwires.js';
import { perIntentReason, RetrievalTally } from './retrieval.js';
import type { ApprovalPendingInfo, CallOptions, CapabilityContext, GuardMode, GuardTimeouts, RetrievalReport, ToolContext, ToolDefinition, ToolType } from './types.js';

/** Everything the pipeline needs, fixed when the guard is created. */
export interface GuardRuntime {
  readonly audience: string;
  readonly clock: Clock;
  /** Seconds a token stays accepted past its `exp`; its call counters must outlive that. */
  readonly clockSkewSec: number;
  readonly store: TesseraStore;
  readonly verify: (token: string) => Promise<VerifiedCapability>;
  readonly cached: (token: string) => VerifiedCapability | undefined;
  readonly bindIdentity: (cap: VerifiedCapability, binding: CapabilityContext) => AgentIdentity | Promise<AgentIdentity>;
  readonly checkProof: (
    cap: VerifiedCapability,
    binding: CapabilityContext,
    /** `rawArgs` is the snapshot of the arguments as the caller passed them. */
    call: { tool: string; callId: string; rawArgs: unknown; proof: string | undefined },
  ) => ProofMarker | Promise<ProofMarker>;
  readonly credentials: CredentialProvider;
  readonly credentialTtlSec: number;
  readonly policy: readonly PolicyEngine[];
  readonly policyTimeoutMs: number;
  readonly approver: Approver | undefined;
  readonly approvalTimeoutMs: number;
  readonly onApprovalPending: ((info: ApprovalPendingInfo) => void | Promise<void>) | undefined;
  readonly timeouts: Readonly<Required<GuardTimeouts>>;
  readonly environment: Readonly<Record<string, unknown>>;
  readonly recorder: Recorder;
  readonly currentBinding: () => CapabilityContext | undefined;
  /** The guard's mode; a tool's own wins. */
  readonly mode: GuardMode;
  /** Record evidence by default; a tool's own setting wins. */
  readonly evidence: boolean;
  readonly tripwires?: GuardTripwires | undefined;
  readonly decisionLog: DecisionLog | undefined;
}

/** A checked proof of possession: its `jti` is spent once, for as long as it could be replayed. */
type ProofMarker = undefined | { jti: string; ttlMs: number };

/** A tool definition with its defaults filled in, as the pipeline sees it. */
export interface PreparedTool {
  readonly name: string;
  readonly description: string;
  readonly input: z.ZodType;
  readonly risk: RiskTier;
  readonly type: ToolType;
  readonly credentialAudience: string;
  readonly credentialTtlSec: number | undefined;
  /** Undefined: the guard's mode. */
  readonly mode: GuardMode | undefined;
  /** Undefined: the guard's `telemetry.evidence`. */
  readonly evidence: boolean | undefined;
  readonly definition: ToolDefinition;
}

/** The stages that can fail, in the order they run. */
export type Stage = 'resolve' | 'verify' | 'identity' | 'scope' | 'proof' | 'store' | 'policy' | 'approval' | 'mint';

/** What a stage's unexpected failure denies with: fail closed, under the stage's own code. */
const STAGE_FAILURE: { readonly [S in Stage]: { readonly code: DenialCode; readonly reason: string } } = {
  resolve: { code: 'capability_missing', reason: 'the capability could not be resolved for this call' },
  verify: { code: 'capability_invalid', reason: 'the capability could not be verified' },
  identity: {
    code: 'identity_unavailable',
    reason: "the agent's identity could not be verified (identity provider or trust bundle unavailable)",
  },
  scope: { code: 'arguments_invalid', reason: 'the arguments could not be checked against the grant' },
  proof: { code: 'proof_invalid', reason: 'the proof of possession could not be checked' },
  store: { code: 'store_unavailable', reason: 'the guard store could not be reached; calls are denied until it answers' },
  policy: { code: 'policy_error', reason: 'a policy engine failed; calls are denied until it answers' },
  approval: { code: 'approval_denied', reason: 'the approval could not be obtained' },
  mint: { code: 'credential_unavailable', reason: 'the credential for this call could not be minted' },
};

const NONE: readonly never[] = Object.freeze([]);

// One shared signal for calls made without one: creating an AbortController per call is costly.
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * One call's state as the stages learn it: what a denial names, what the span records, what
 * `execute` must revoke. One object per call, in place of a closure per field.
 */
class GuardedCall {
  stage: Stage = 'resolve';
  cap: VerifiedCapability | undefined = undefined;
  policyIds: readonly string[] = NONE;
  /** Set just before the tool runs: from then on an error is the tool's own, not a denial. */
  running = false;
  credential: Credential | undefined = undefined;
  credentialRequest: CredentialRequest | undefined = undefined;
  implStart = 0;
  implEnd = 0;
  decision: 'allow' | 'deny' | 'error' = 'allow';
  code: string | undefined = undefined;
  errorType: string | undefined = undefined;
  /** Shadow mode: the stages' decisions are recorded, not enforced. */
  shadow = false;
  /** Shadow mode: the first denial enforce mode would have answered with. */
  wouldDeny: ToolDeniedError | undefined = undefined;
  /** The grant's retrieval bound, set before the tool runs. */
  retrievalBound: RetrievalBound | undefined = undefined;
  /** What the tool reported reading, once it reports. */
  retrieval: RetrievalTally | undefined = undefined;

  constructor(
    readonly rt: GuardRuntime,
    readonly tool: PreparedTool,
    readonly callId: string,
    readonly span: Span,
    readonly owned: boolean,
    readonly spanContext: Context,
    readonly signal: AbortSignal,
    readonly t0: number,
  ) {}
}

/** The denial for this call, returned so that call sites read `throw deny(...)`. */
function deny(call: GuardedCall, code: DenialCode, reason: string): ToolDeniedError {
  const cap = call.cap;
  return new ToolDeniedError(
    code,
    reason,
    cap === undefined
      ? { tool: call.tool.name, callId: call.callId, policyIds: call.policyIds }
      : { tool: call.tool.name, callId: call.callId, capabilityId: cap.id, intentId: cap.intent.id, policyIds: call.policyIds },
  );
}

/** What `authorize` hands to `execute`. */
interface Authorized {
  readonly cap: VerifiedCapability;
  readonly agent: AgentIdentity;
  readonly args: Readonly<Record<string, unknown>>;
  readonly argsHash: string;
  readonly credentialId: string;
  readonly credentialTtlSec: number;
  readonly retrieval: RetrievalBound | undefined;
}

export async function runGuardedCall(
  rt: GuardRuntime,
  tool: PreparedTool,
  implementation: (args: unknown, ctx: ToolContext) => unknown,
  rawArgs: unknown,
  options: CallOptions | undefined,
): Promise<unknown> {
  const t0 = performance.now();
  const callId = options?.callId ?? randomId();
  const started = rt.recorder.start(tool.name, {
    [ATTR.OPERATION_NAME]: OPERATION_EXECUTE_TOOL,
    [ATTR.TOOL_NAME]: tool.name,
    [ATTR.TOOL_CALL_ID]: callId,
    [ATTR.TOOL_DESCRIPTION]: tool.description,
    [ATTR.TOOL_TYPE]: tool.type,
    [ATTR.RISK]: tool.risk,
  });
  const call = new GuardedCall(rt, tool, callId, started.span, started.owned, started.ctx, options?.signal ?? NEVER_ABORTED, t0);
  if ((tool.mode ?? rt.mode) === 'shadow') {
    call.shadow = true;
    started.span.setAttribute(ATTR.ENFORCED, false);
  }
  try {
    if (call.shadow) return await runShadow(call, implementation, rawArgs, options);
    const authorized = await authorize(call, rawArgs, options);
    return await execute(call, authorized, implementation);
  } catch (err) {
    if (!call.running) {
      const denial = toDenial(call, err);
      recordDenial(call.span, denial);
      call.decision = 'deny';
      call.code = denial.code;
      // Any trip this denial causes is in the store before the caller hears of the denial.
      if (rt.tripwires !== undefined) await rt.tripwires.denied(denial.code, call.cap, tool.name, err, call.span);
      throw denial;
    }
    // The tool's own error is rethrown unchanged; the span records its type only, since a
    // message may quote data the tool handled.
    call.span.recordException({ name: err instanceof Error ? err.name : 'NonError', message: '' });
    // A shadow-mode call keeps the denial it would have had.
    if (call.decision !== 'deny') call.decision = 'error';
    call.errorType = err instanceof Error ? err.constructor.name || err.name : 'NonError';
    throw err;
  } finally {
    // 12 record
    const overheadUs = (performance.now() - call.t0 - (call.implEnd - call.implStart)) * 1000;
    rt.recorder.finish(call, call.decision, tool.name, overheadUs, call.code, call.errorType);
    // 13 the decision log: one leaf hash per call; signatures come per checkpoint, off this path
    if (rt.decisionLog !== undefined) logDecision(rt.decisionLog, call);
  }
}

/** Stages 1-8: everything that decides whether the call may run. Writes nothing the tool sees. */
async function authorize(call: GuardedCall, rawArgs: unknown, options: CallOptions | undefined): Promise<Authorized> {
  const { rt, tool } = call;

  // 1 resolve: from the call options or the async context; never from the model's arguments.
  const binding = resolve(call, options);
  unlogged(call);

  // 2 verify (cached until expiry)
  call.stage = 'verify';
  const cap = rt.cached(binding.capability) ?? (await withDeadline(rt.verify(binding.capability), rt.timeouts.keysMs, "the capability's issuer keys"));
  call.cap = cap;
  recordCapability(call.span, cap);
  const tripped = rt.tripwires?.admit(cap, tool.name, call.span);
  if (tripped !== undefined) await tripped;

  // 3 bind identity: the capability's subject is the verified identity running this call
  call.stage = 'identity';
  const agent = await rt.bindIdentity(cap, binding);
  call.span.setAttribute(ATTR.IDENTITY_SOURCE, agent.source);

  // 4 scope: granted tool, arguments parsed by the tool's schema, then the grant's constraints
  call.stage = 'scope';
  const { input, args, argsHash, maxCalls, retrieval } = scope(call, cap, rawArgs);

  // 5 prove: a proof of possession, bound to this exact call
  call.stage = 'proof';
  const proof = await rt.checkProof(cap, binding, { tool: tool.name, callId: call.callId, rawArgs: input, proof: options?.proof });

  // 6 reserve: revocation, call limits, single-use markers, credential registration in one round trip
  call.stage = 'store';
  const nowMs = rt.clock();
  const credentialId = credentialIdFor(cap);
  const credentialTtlSec = tool.credentialTtlSec ?? rt.credentialTtlSec;
  const registration = credentialRegistration(credentialId, credentialTtlSec);
  reserved(call, await reserve(call, cap, maxCalls, proof, registration, nowMs));

  // 7 decide: policy at the moment of the call
  call.stage = 'policy';
  const decision = decide(call, await evaluatePolicies(rt.policy, policyRequest(rt, tool, cap, agent, args, nowMs), rt.policyTimeoutMs));

  // 8 approve: high-risk calls wait for a human
  if (decision.effect === 'require_approval') {
    call.stage = 'approval';
    await approve(call, cap, agent, args, argsHash, decision.reason, registration, nowMs);
  }
  return { cap, agent, args, argsHash, credentialId, credentialTtlSec, retrieval };
}

/** Stages 9-11: mint the call's credential, run the tool with it, revoke it whatever happens. */
async function execute(
  call: GuardedCall,
  { cap, agent, args, argsHash, credentialId, credentialTtlSec, retrieval }: Authorized,
  implementation: (args: unknown, ctx: ToolContext) => unknown,
): Promise<unknown> {
  const { rt, signal } = call;
  // What the credential provider sees as its signal: made only if it reads it, aborted when the
  // caller aborts or the provider's deadline passes.
  const credentialSignal = new LazySignal(signal);
  try {
    // 9 mint a single-use credential for this one call, never outliving the capability
    call.stage = 'mint';
    if (signal.aborted) throw deny(call, 'call_aborted', 'the call was aborted by its caller before its credential was minted; nothing ran');
    unlogged(call);
    const credential = await mint(call, cap, agent, args, argsHash, credentialId, credentialTtlSec, credentialSignal);
    if (signal.aborted) throw deny(call, 'call_aborted', 'the call was aborted by its caller before the tool ran; nothing ran');

    // 10 run with exactly the snapshot that was checked
    const toolCtx: ToolContext = {
      credential,
      callId: call.callId,
      agent,
      intent: cap.intent,
      capabilityId: cap.id,
      signal,
      sideEffect: (kind, attributes) => rt.recorder.sideEffect(call.span, kind, attributes),
      retrieved: (report) => retrieved(call, report),
    };
    call.retrievalBound = retrieval;
    return await run(call, implementation, args, toolCtx, cap);
  } finally {
    // 11 revoke the credential whatever happened
    await revoke(call, credentialSignal);
  }
}

/**
 * Shadow mode: every stage runs as far as its inputs exist (nothing can be verified without a
 * capability; policy is asked only about a bound identity), the first denial enforce mode would
 * answer with is recorded, and the tool runs anyway, with a credential when the capability
 * verified and the identity was bound. Budgets and single-use markers are spent as in enforce
 * mode. Two things still stop the call, with the denial enforce mode would have answered: the
 * arguments do not parse by the tool's own schema (the tool cannot be given them), and the
 * caller aborted.
 */
async function runShadow(
  call: GuardedCall,
  implementation: (args: unknown, ctx: ToolContext) => unknown,
  rawArgs: unknown,
  options: CallOptions | undefined,
): Promise<unknown> {
  const { rt, tool, span, signal } = call;
  // The tool cannot run: the caller gets what enforce mode would have answered.
  const stop = (err: unknown): ToolDeniedError => call.wouldDeny ?? toDenial(call, err);
  // A stage's would-be denial: the first is kept, as enforce mode would have stopped there.
  const note = (err: unknown): void => {
    const denial = toDenial(call, err);
    if (denial.code === 'call_aborted') throw stop(denial);
    call.wouldDeny ??= denial;
  };

  // 1 resolve
  let binding: CapabilityContext | undefined;
  try {
    binding = resolve(call, options);
  } catch (err) {
    note(err);
  }

  // 2 verify
  let cap: VerifiedCapability | undefined;
  if (binding !== undefined) {
    call.stage = 'verify';
    try {
      cap = rt.cached(binding.capability) ?? (await withDeadline(rt.verify(binding.capability), rt.timeouts.keysMs, "the capability's issuer keys"));
      call.cap = cap;
      recordCapability(span, cap);
    } catch (err) {
      note(err);
    }
  }

  // 3 bind identity
  let agent: AgentIdentity | undefined;
  if (cap !== undefined && binding !== undefined) {
    call.stage = 'identity';
    try {
      agent = await rt.bindIdentity(cap, binding);
      span.setAttribute(ATTR.IDENTITY_SOURCE, agent.source);
    } catch (err) {
      note(err);
    }
  }

  // 4 scope: the arguments must parse whatever else failed
  call.stage = 'scope';
  const grant = cap?.tools.get(tool.name);
  if (cap !== undefined && grant === undefined) note(deny(call, 'tool_not_granted', notGrantedReason(cap, tool.name)));
  let parsed: { input: unknown; args: Readonly<Record<string, unknown>> };
  let argsHash: string;
  try {
    parsed = parseArguments(call, cap?.confirmationJkt !== undefined, rawArgs);
    if (cap !== undefined && (tool.evidence ?? rt.evidence)) recordEvidence(call, cap, parsed.args);
    argsHash = hashOrDeny(call, parsed.args);
  } catch (err) {
    throw stop(err);
  }
  const { input, args } = parsed;
  if (grant !== undefined) {
    try {
      const violation = grant.check(args as Record<string, unknown>);
      if (violation !== undefined) note(deny(call, 'arguments_out_of_scope', `${violation} (intent "${cap!.intent.id}")`));
    } catch (err) {
      note(err);
    }
  }

  // 5 prove
  let proof: ProofMarker;
  if (cap !== undefined && binding !== undefined) {
    call.stage = 'proof';
    try {
      proof = await rt.checkProof(cap, binding, { tool: tool.name, callId: call.callId, rawArgs: input, proof: options?.proof });
    } catch (err) {
      note(err);
    }
  }

  // 6 reserve: budgets are spent as in enforce mode; a refused reservation writes nothing
  call.stage = 'store';
  const nowMs = rt.clock();
  // In the root's shard, as in enforce mode: on Redis Cluster the registration shares the call's slot.
  const credentialId = cap !== undefined ? credentialIdFor(cap) : randomId();
  const credentialTtlSec = tool.credentialTtlSec ?? rt.credentialTtlSec;
  const registration = credentialRegistration(credentialId, credentialTtlSec);
  if (cap !== undefined) {
    try {
      const answer = await reserve(call, cap, grant?.maxCalls, proof, registration, nowMs);
      if (!answer.ok) {
        try {
          reserved(call, answer);
        } catch (err) {
          note(err);
        }
        // The credential is registered on its own, so that it verifies downstream like any other.
        const registered = rt.store.reserve({ revocations: NONE, counters: NONE, once: NONE, credentials: registration });
        await withDeadline(registered, rt.timeouts.storeMs, 'the guard store');
      }
    } catch (err) {
      note(err);
    }
  }

  // 7 decide: policy is asked only about an identity that was bound
  let decision: LayeredDecision | undefined;
  if (cap !== undefined && agent !== undefined) {
    call.stage = 'policy';
    try {
      decision = decide(call, await evaluatePolicies(rt.policy, policyRequest(rt, tool, cap, agent, args, nowMs), rt.policyTimeoutMs));
    } catch (err) {
      note(err);
    }
  }

  // 8 approve: a human is asked only about a call nothing before would deny
  if (decision?.effect === 'require_approval' && call.wouldDeny === undefined && cap !== undefined && agent !== undefined) {
    call.stage = 'approval';
    try {
      await approve(call, cap, agent, args, argsHash, decision.reason, registration, nowMs);
    } catch (err) {
      note(err);
    }
  }

  const credentialSignal = new LazySignal(signal);
  try {
    // 9 mint where the capability verified and the identity was bound
    call.stage = 'mint';
    if (signal.aborted) throw stop(deny(call, 'call_aborted', 'the call was aborted by its caller before its credential was minted; nothing ran'));
    let credential: Credential | undefined;
    if (cap !== undefined && agent !== undefined) {
      try {
        credential = await mint(call, cap, agent, args, argsHash, credentialId, credentialTtlSec, credentialSignal);
      } catch (err) {
        note(err);
      }
    }
    if (signal.aborted) throw stop(deny(call, 'call_aborted', 'the call was aborted by its caller before the tool ran; nothing ran'));
    if (call.wouldDeny !== undefined) shadowDenied(call, call.wouldDeny);

    // 10 run anyway
    call.retrievalBound = grant?.retrieval;
    return await run(call, implementation, args, shadowContext(call, cap, agent, credential), cap);
  } finally {
    // 11 revoke
    await revoke(call, credentialSignal);
  }
}

/** A would-be denial on the span and in the shadow-denials metric; the tool runs anyway. */
function shadowDenied(call: GuardedCall, denial: ToolDeniedError): void {
  call.wouldDeny = denial;
  recordDenial(call.span, denial);
  call.decision = 'deny';
  call.code = denial.code;
  call.rt.recorder.shadowDenial(call.tool.name, denial.code);
}

/**
 * The tool's context in shadow mode. What no stage could establish (the credential, without a
 * verified capability and a bound identity; the agent, intent and capability id, without a
 * verified capability) throws the call's would-be denial when the tool reads it.
 */
function shadowContext(
  call: GuardedCall,
  cap: VerifiedCapability | undefined,
  agent: AgentIdentity | undefined,
  credential: Credential | undefined,
): ToolContext {
  const { rt, callId, signal } = call;
  const missing = (): never => {
    throw call.wouldDeny ?? deny(call, 'credential_unavailable', 'no credential could be minted for this call');
  };
  return {
    get credential() {
      return credential ?? missing();
    },
    callId,
    get agent() {
      return agent ?? missing();
    },
    get intent() {
      return cap?.intent ?? missing();
    },
    get capabilityId() {
      return cap?.id ?? missing();
    },
    signal,
    sideEffect: (kind, attributes) => rt.recorder.sideEffect(call.span, kind, attributes),
    retrieved: (report) => retrieved(call, report),
  };
}

/** 9 The call's credential from the provider, within its deadline. */
async function mint(
  call: GuardedCall,
  cap: VerifiedCapability,
  agent: AgentIdentity,
  args: Readonly<Record<string, unknown>>,
  argsHash: string,
  credentialId: string,
  credentialTtlSec: number,
  credentialSignal: LazySignal,
): Promise<Credential> {
  const { rt, tool } = call;
  const remainingSec = remainingLifetimeSec(call, cap);
  const request: CredentialRequest = {
    credentialId,
    tool: tool.name,
    callId: call.callId,
    argsHash,
    agent: agent.id,
    intentId: cap.intent.id,
    capabilityId: cap.id,
    audience: tool.credentialAudience,
    ttlSec: Math.min(credentialTtlSec, remainingSec),
    get signal() {
      return credentialSignal.signal;
    },
    args,
    // A provider narrows what it hands out to what the grant allows (every link of the chain).
    grantAllows: (candidate) => cap.tools.get(tool.name)?.check(candidate as Record<string, unknown>) === undefined,
    addEvent: (name, attributes) => call.span.addEvent(name, attributes),
  };
  call.credentialRequest = request;
  const minting = withDeadline(rt.credentials.mint(request), rt.timeouts.credentialMs, 'the credential provider', (err) => credentialSignal.abort(err));
  // Held on the call as soon as it exists, so that revocation (11) covers every later denial.
  const credential = (call.credential = await minting);
  // A slow provider can outlast the capability too.
  if (minting instanceof Promise) remainingLifetimeSec(call, cap);
  if (credential === null || typeof credential !== 'object' || typeof credential.id !== 'string') {
    call.credential = undefined;
    throw deny(call, 'credential_unavailable', 'the credential provider returned no credential');
  }
  call.span.setAttributes({ [ATTR.CREDENTIAL_ID]: credential.id, [ATTR.CREDENTIAL_TYPE]: credential.type });
  return credential;
}

/**
 * 10 The tool runs; its result is released only once what it reported reading is within the
 * grant's bounds, per call and (counted in the store) per intent.
 */
async function run(
  call: GuardedCall,
  implementation: (args: unknown, ctx: ToolContext) => unknown,
  args: Readonly<Record<string, unknown>>,
  toolCtx: ToolContext,
  cap: VerifiedCapability | undefined,
): Promise<unknown> {
  call.running = true;
  call.implStart = performance.now();
  let result: unknown;
  try {
    result = await context.with(call.spanContext, implementation, undefined, args, toolCtx);
  } catch (err) {
    call.implEnd = performance.now();
    // A tool that read past its bound and then failed still had data it may not hand on.
    if (call.retrieval?.exceeded !== undefined) overBound(call, call.retrieval.exceeded);
    throw err;
  }
  call.implEnd = performance.now();
  const tally = call.retrieval;
  if (tally !== undefined) {
    if (tally.exceeded !== undefined) overBound(call, tally.exceeded);
    else if (cap !== undefined) await countPerIntent(call, cap, tally);
  }
  return result;
}

/** `ctx.retrieved`: the event, the sums, and in enforce mode a denial as soon as a per-call bound is passed. */
function retrieved(call: GuardedCall, report: RetrievalReport): void {
  const tally = (call.retrieval ??= new RetrievalTally(call.span, call.tool.name, call.retrievalBound));
  const over = tally.add(report);
  if (over !== undefined && !call.shadow) throw deny(call, 'retrieval_limit_exceeded', `${over}; the result is withheld`);
}

/** Past a retrieval bound: enforce mode withholds the result and denies; shadow mode records it. */
function overBound(call: GuardedCall, reason: string): void {
  const denial = deny(call, 'retrieval_limit_exceeded', `${reason}; the result is withheld`);
  if (!call.shadow) {
    call.running = false;
    throw denial;
  }
  if (call.wouldDeny === undefined) shadowDenied(call, denial);
}

/** The call's retrieval added to the intent's sums in one atomic store step, within the bound or not at all. */
async function countPerIntent(call: GuardedCall, cap: VerifiedCapability, tally: RetrievalTally): Promise<void> {
  const { rt } = call;
  const additions = tally.additions(cap.intent.id, Math.max(1000, cap.chainExpiresAt * 1000 - rt.clock() + counterMarginMs(rt.clockSkewSec)));
  if (additions.length === 0) return;
  const store = rt.store;
  call.stage = 'store';
  let answer: AdditionResult;
  try {
    if (typeof store.addWithin !== 'function') {
      throw deny(call, 'store_unavailable', 'the guard store cannot count retrieval per intent (it has no addWithin); the result is withheld');
    }
    answer = await withDeadline(store.addWithin(additions), rt.timeouts.storeMs, 'the guard store');
  } catch (err) {
    if (!call.shadow) {
      call.running = false;
      throw err;
    }
    if (call.wouldDeny === undefined) shadowDenied(call, toDenial(call, err));
    return;
  }
  if (!answer.ok) overBound(call, perIntentReason(call.tool.name, answer.key, answer.limit, answer.total, cap.intent.id));
}

/** 11 Revokes the credential within the provider's deadline: a provider that never answers cannot hold the result back. */
async function revoke(call: GuardedCall, credentialSignal: LazySignal): Promise<void> {
  const { rt, credential, credentialRequest } = call;
  if (credential !== undefined && credentialRequest !== undefined) {
    try {
      await withDeadline(rt.credentials.revoke(credential, credentialRequest), rt.timeouts.credentialMs, 'the credential provider', (err) =>
        credentialSignal.abort(err),
      );
    } catch (revokeErr) {
      call.span.setAttribute(ATTR.CREDENTIAL_REVOKE_ERROR, revokeErr instanceof Error ? revokeErr.name : 'NonError');
    }
  }
  credentialSignal.release();
}

// ---- The stages, in the order they run ----

/** 1 The capability bound to this call: the call's own option wins over the async context. */
function resolve(call: GuardedCall, options: CallOptions | undefined): CapabilityContext {
  if (call.signal.aborted) throw deny(call, 'call_aborted', 'the call was aborted by its caller before it was authorized; nothing ran');
  const given = options?.capability ?? call.rt.currentBinding();
  const binding: CapabilityContext | undefined = typeof given === 'string' ? { capability: given } : given;
  if (binding === undefined || typeof binding.capability !== 'string' || binding.capability === '') {
    throw deny(call, 'capability_missing', 'no capability is bound to this call; run the agent inside guard.withCapability(token, fn) or pass { capability }');
  }
  return binding;
}

/** 2 What the span learns from the verified capability. */
function recordCapability(span: Span, cap: VerifiedCapability): void {
  span.setAttributes({
    [ATTR.CAPABILITY_ID]: cap.id,
    [ATTR.INTENT_ID]: cap.intent.id,
    [ATTR.AGENT_ID]: cap.subject,
    [ATTR.DELEGATION_DEPTH]: cap.chain.depth,
  });
  if (cap.chain.depth > 0) {
    span.setAttributes({ [ATTR.DELEGATION_CHAIN]: [...cap.chain.agents], [ATTR.DELEGATION_ROOT_ID]: cap.chain.ids[0]! });
  }
}

/**
 * 4 The tool is granted, the arguments parse by its schema, and the parsed arguments, snapshotted
 * once and frozen, meet the grant's constraints and hash as canonical JSON.
 */
function scope(
  call: GuardedCall,
  cap: VerifiedCapability,
  rawArgs: unknown,
): { input: unknown; args: Readonly<Record<string, unknown>>; argsHash: string; maxCalls: number | undefined; retrieval: RetrievalBound | undefined } {
  const { tool } = call;
  const grant = cap.tools.get(tool.name);
  if (grant === undefined) throw deny(call, 'tool_not_granted', notGrantedReason(cap, tool.name));
  const { input, args } = parseArguments(call, cap.confirmationJkt !== undefined, rawArgs);
  if (call.tool.evidence ?? call.rt.evidence) recordEvidence(call, cap, args);
  const violation = grant.check(args as Record<string, unknown>);
  if (violation !== undefined) throw deny(call, 'arguments_out_of_scope', `${violation} (intent "${cap.intent.id}")`);
  return { input, args, argsHash: hashOrDeny(call, args), maxCalls: grant.maxCalls, retrieval: grant.retrieval };
}

/** 4 The arguments parsed by the tool's schema, as one deeply frozen snapshot of named arguments. */
function parseArguments(call: GuardedCall, confirmed: boolean, rawArgs: unknown): { input: unknown; args: Readonly<Record<string, unknown>> } {
  // A proof of possession covers the arguments as the caller passed them: those are snapshotted
  // first, so that the proof, the schema and the tool all see the same values.
  const input = confirmed ? snapshotOrDeny(call, rawArgs, true) : rawArgs;
  const parsed = call.tool.input.safeParse(input);
  if (!parsed.success) {
    throw deny(call, 'arguments_invalid', `the arguments do not match the tool's schema: ${parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
      .join('; ')}`);
  }
  // ONE deeply frozen snapshot of the parsed arguments: constraints, hash, policy, approval,
  // credential and tool all get this value, and nothing the caller holds can change it.
  const args = snapshotOrDeny(call, parsed.data, false);
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw deny(call, 'arguments_invalid', "the tool's schema must produce an object of named arguments");
  }
  return { input, args: args as Readonly<Record<string, unknown>> };
}

/** 4 The arguments' hash on the span (and the arguments themselves under the opt-in). */
function hashOrDeny(call: GuardedCall, args: Readonly<Record<string, unknown>>): string {
  let argsHash: string;
  try {
    argsHash = hashArguments(args);
  } catch (err) {
    if (err instanceof NotJsonError) throw deny(call, 'arguments_invalid', `the arguments are not JSON data: ${err.message}`);
    throw err;
  }
  call.span.setAttribute(ATTR.ARGS_HASH, argsHash);
  if (call.rt.recorder.recordArguments) call.span.setAttribute(ATTR.TOOL_CALL_ARGUMENTS, JSON.stringify(args));
  return argsHash;
}

/** 4 The evidence opt-in: each argument's shape, never its raw value (see telemetry/evidence.ts). */
function recordEvidence(call: GuardedCall, cap: VerifiedCapability, args: Readonly<Record<string, unknown>>): void {
  call.span.setAttribute(ATTR.EVIDENCE, evidenceAttribute(cap.id, cap.intent.purpose, args));
}

/**
 * 6 One store round trip: revocation along the chain, this call's count against every budget it
 * spends, the proof's single-use marker, the credential's registration.
 */
function reserve(
  call: GuardedCall,
  cap: VerifiedCapability,
  maxCalls: number | undefined,
  proof: ProofMarker,
  registration: readonly CredentialRegistration[],
  nowMs: number,
): ReservationResult | Promise<ReservationResult> {
  const { rt } = call;
  const reservation: CallReservation = {
    revocations: revocationChecks(cap),
    counters: callCounters(cap, call.tool.name, maxCalls, nowMs, rt.clockSkewSec),
    once: proof ? [{ key: proofMarkerKey(cap.id, proof.jti), ttlMs: proof.ttlMs }] : NONE,
    credentials: registration,
  };
  return withDeadline(rt.store.reserve(reservation), rt.timeouts.storeMs, 'the guard store');
}

/** 6 The store's answer: a revocation, a spent budget or a replayed proof denies the call. */
function reserved(call: GuardedCall, answer: ReservationResult): void {
  if (answer.ok) return;
  if (answer.reason === 'revoked') {
    throw deny(call, 'capability_revoked', `the capability was revoked (${answer.key.split(':')[0]} revocation); ask the authority for a new grant`);
  }
  if (answer.reason === 'limit') {
    throw deny(call, 'call_limit_exceeded', `"${call.tool.name}" may be called at most ${answer.limit} time(s) under this capability`);
  }
  throw deny(call, 'replay_detected', 'this proof of possession was already used; sign a fresh proof for each call');
}

/** 7 Policy's answer on the span; a deny or an engine's failure denies the call. */
function decide(call: GuardedCall, decision: LayeredDecision): LayeredDecision {
  call.policyIds = decision.policyIds;
  call.span.setAttribute(ATTR.POLICY_EFFECT, decision.effect);
  if (decision.policyIds.length > 0) call.span.setAttribute(ATTR.POLICY_IDS, [...decision.policyIds]);
  if (decision.effect === 'error') throw deny(call, 'policy_error', `${decision.reason}; the call is denied (fail closed)`);
  if (decision.effect === 'deny') throw deny(call, 'policy_denied', decision.reason);
  return decision;
}

/** 8 A human approves this exact call, once; revocation is checked again after the wait. */
async function approve(
  call: GuardedCall,
  cap: VerifiedCapability,
  agent: AgentIdentity,
  args: Readonly<Record<string, unknown>>,
  argsHash: string,
  why: string,
  registration: readonly CredentialRegistration[],
  nowMs: number,
): Promise<void> {
  const { rt, tool, span, signal, callId, policyIds } = call;
  if (rt.approver === undefined) {
    throw deny(call, 'approval_denied', `${why}; this guard has no approver configured, so the call is denied`);
  }
  // An approver that hands the question to people elsewhere says when it is out: the span gets
  // an event and the host's hook is told (never waited for), once.
  const approvalDeadline = rt.clock() + rt.approvalTimeoutMs;
  let waiting = true;
  const pending = (info: { readonly route?: string }): void => {
    if (!waiting) return;
    waiting = false;
    const route = typeof info?.route === 'string' ? info.route.slice(0, 256) : undefined;
    span.addEvent(APPROVAL_PENDING_EVENT, route === undefined ? {} : { [APPROVAL_ROUTE_ATTR]: route });
    announcePending(rt.onApprovalPending, { callId, tool: tool.name, route, deadline: approvalDeadline });
  };
  const answer = await askApproval(
    rt.approver,
    {
      agent: agent.id,
      intent: cap.intent,
      tool: tool.name,
      risk: tool.risk,
      argsPreview: previewArguments(args),
      argsHash,
      capabilityId: cap.id,
      callId,
      why,
      policyIds,
      timeoutMs: rt.approvalTimeoutMs,
      pending,
    },
    rt.approvalTimeoutMs,
    signal,
  );
  waiting = false;
  span.setAttribute(ATTR.APPROVAL_WAIT_MS, answer.waitMs);
  if (signal.aborted) throw deny(call, 'call_aborted', 'the call was aborted by its caller while it waited for approval; nothing ran');
  if (answer.outcome === 'timeout') {
    span.setAttribute(ATTR.APPROVAL_DECISION, 'timeout');
    throw deny(call, 'approval_timeout', `no approver answered within ${rt.approvalTimeoutMs} ms`);
  }
  if (answer.outcome === 'error') {
    span.setAttribute(ATTR.APPROVAL_DECISION, 'error');
    throw deny(call, 'approval_denied', 'the approver failed; the call is denied (fail closed)');
  }
  if (answer.outcome === 'denied') {
    span.setAttribute(ATTR.APPROVAL_DECISION, 'denied');
    if (answer.approver !== undefined) span.setAttribute(ATTR.APPROVAL_APPROVER, answer.approver);
    throw deny(call, 'approval_denied', `the approver refused: ${answer.reason}`);
  }
  if (answer.outcome === 'mismatch') {
    span.setAttribute(ATTR.APPROVAL_DECISION, 'mismatch');
    if (answer.approver !== undefined) span.setAttribute(ATTR.APPROVAL_APPROVER, answer.approver);
    throw deny(call, 'approval_denied', 'the approval was given for a different call (tool, arguments or capability differ); an approval covers one exact call');
  }
  if (answer.approver !== undefined) span.setAttribute(ATTR.APPROVAL_APPROVER, answer.approver);
  // The capability's counters outlive it by the clock skew; an approval marker lives at least as long.
  const capTtlMs = Math.max(1000, cap.chainExpiresAt * 1000 - nowMs + counterMarginMs(rt.clockSkewSec));
  if (answer.id !== undefined) {
    // Single use across every process sharing the store: a replayed approval id is refused.
    call.stage = 'store';
    const fresh = await withDeadline(
      rt.store.consumeOnce(`approval:${answer.id}`, Math.max(capTtlMs, APPROVAL_MARKER_TTL_MS)),
      rt.timeouts.storeMs,
      'the guard store',
    );
    call.stage = 'approval';
    if (fresh !== true) {
      span.setAttribute(ATTR.APPROVAL_DECISION, 'replayed');
      throw deny(call, 'approval_denied', 'this approval was already used for another call; each approval covers one call, ask again');
    }
  }
  span.setAttribute(ATTR.APPROVAL_DECISION, 'approved');

  // An approval may take minutes. Before minting, revocation is checked again (a stop pressed
  // while the human was deciding still wins) and the credential's registration is renewed
  // so that it lives as long as the credential minted now.
  call.stage = 'store';
  const renewed = await withDeadline(
    rt.store.reserve({ revocations: revocationChecks(cap), counters: NONE, once: NONE, credentials: registration }),
    rt.timeouts.storeMs,
    'the guard store',
  );
  if (!renewed.ok) {
    throw deny(call, 'capability_revoked', 'the capability was revoked while the call waited for approval; ask the authority for a new grant');
  }
}

/** Refuses the call while the decision log cannot record it (`onSinkFailure: 'deny'`). */
function unlogged(call: GuardedCall): void {
  const refusal = call.rt.decisionLog?.refusal;
  if (refusal !== undefined) throw deny(call, 'decision_log_unavailable', `${refusal}; calls are denied until it records again`);
}

// ---- Helpers the stages share (preflight builds the same reservation and policy request) ----

/** The capability is accepted until its exp plus the clock skew: its counters outlive both. */
const counterMarginMs = (clockSkewSec: number): number => (clockSkewSec + 60) * 1000;

/**
 * The counters one call of `tool` spends: its own grant's `maxCalls`, and every ancestor's budget
 * for the same tool. Keyed and timed identically for the call and for its preflight.
 */
export function callCounters(
  cap: VerifiedCapability,
  tool: string,
  maxCalls: number | undefined,
  nowMs: number,
  clockSkewSec: number,
): readonly CounterIncrement[] {
  const marginMs = counterMarginMs(clockSkewSec);
  const own: readonly CounterIncrement[] =
    maxCalls === undefined ? NONE : [{ key: counterKey(cap.id, tool), limit: maxCalls, ttlMs: Math.max(1000, cap.chainExpiresAt * 1000 - nowMs + marginMs) }];
  if (cap.ancestorLimits.size === 0) return own;
  return withAncestorCounters({ revocations: NONE, counters: own, once: NONE, credentials: NONE }, cap, tool, nowMs, marginMs).counters;
}

/** What every policy engine is asked about one call. */
export function policyRequest(
  rt: GuardRuntime,
  tool: PreparedTool,
  cap: VerifiedCapability,
  agent: AgentIdentity,
  args: Readonly<Record<string, unknown>>,
  nowMs: number,
): PolicyRequest {
  return {
    agent,
    intent: cap.intent,
    tool: { name: tool.name, risk: tool.risk, description: tool.description },
    args,
    capabilityId: cap.id,
    delegation: { depth: cap.chain.depth, chain: cap.chain.agents },
    environment: rt.environment,
    time: nowMs,
  };
}

/** The credential stops verifying at its exp; its marker outlives that by a margin for clock skew. */
function credentialRegistration(id: string, ttlSec: number): readonly CredentialRegistration[] {
  return [{ id, ttlMs: (ttlSec + CREDENTIAL_MARGIN_SEC) * 1000 }];
}

/** Seconds the capability (its whole chain) still lives; denies when its window has closed. */
function remainingLifetimeSec(call: GuardedCall, cap: VerifiedCapability): number {
  const { rt } = call;
  const nowMs = rt.clock();
  if (nowMs >= (cap.chainExpiresAt + rt.clockSkewSec) * 1000) {
    throw deny(call, 'capability_expired', 'the capability expired while the call was being authorized; nothing ran, ask the authority for a new grant');
  }
  if (nowMs < (cap.notBefore - rt.clockSkewSec) * 1000) throw deny(call, 'capability_invalid', 'the capability is not valid yet (nbf is in the future)');
  // A credential lives in whole seconds and never past the capability's own exp.
  const remaining = Math.floor(cap.chainExpiresAt - nowMs / 1000);
  if (remaining < 1) {
    throw deny(call, 'capability_expired', 'the capability has less than a second left, too little for a call credential; ask the authority for a new grant');
  }
  return remaining;
}

/** Arguments as one frozen snapshot, or an `arguments_invalid` denial naming the path. */
function snapshotOrDeny(call: GuardedCall, value: unknown, remember: boolean): unknown {
  try {
    return snapshotArguments(value, remember ? REMEMBER : FORGET);
  } catch (err) {
    if (err instanceof SnapshotError) throw deny(call, 'arguments_invalid', `the arguments are not plain JSON data at ${err.path}: ${err.problem}`);
    throw err;
  }
}

const REMEMBER = Object.freeze({ remember: true });
const FORGET = Object.freeze({ remember: false });

const NEAR_NAMES = 3;
const SEPARATOR = /[.:/]/;

/**
 * Names the requested tool and the intent, and at most a few granted tools in the same
 * namespace: never the whole grant, which could be thousands of names and would tell a
 * prompt-injected model its remaining reach. One pass over the names, stopping early.
 */
function notGrantedReason(cap: VerifiedCapability, tool: string): string {
  let cut = -1;
  for (let i = tool.length - 1; i >= 0; i--) {
    if (SEPARATOR.test(tool[i]!)) {
      cut = i;
      break;
    }
  }
  const near: string[] = [];
  if (cut > 0) {
    const namespace = tool.slice(0, cut + 1);
    for (const name of cap.tools.keys()) {
      if (name.startsWith(namespace)) {
        near.push(name);
        if (near.length === NEAR_NAMES) break;
      }
    }
  }
  const count = cap.tools.size;
  const grants = `it grants ${count} tool${count === 1 ? '' : 's'}`;
  const similar = near.length === 0 ? '' : `, including ${near.join(', ')}`;
  return `the capability for intent "${cap.intent.id}" does not grant "${tool}"; ${grants}${similar}`;
}

function recordDenial(span: Span, denial: ToolDeniedError): void {
  span.setAttributes({
    [ATTR.DENIAL_CODE]: denial.code,
    [ATTR.DENIAL_REASON]: denial.reason,
    [ATTR.STANDARDS]: standardsTags(denial.code),
  });
}

/** The denial code and reason a Tessera error carries, if its code is a denial code; read once, as its getters are not ours. */
function denialOf(err: AnyTesseraError): { code: DenialCode; reason: string } | undefined {
  try {
    const { code, reason } = err;
    return typeof code === 'string' && Object.hasOwn(DENIAL_STANDARDS, code) && typeof reason === 'string' ? { code: code as DenialCode, reason } : undefined;
  } catch {
    return undefined;
  }
}

/** Any error before the tool ran, as the denial the caller gets. */
function toDenial(call: GuardedCall, err: unknown): ToolDeniedError {
  if (err instanceof ToolDeniedError) return err;
  // Recognised across copies of the package (a dependency built against the other module
  // format); rebuilt here so the denial carries this call's details.
  const known = isTesseraError(err) ? denialOf(err) : undefined;
  if (known !== undefined) return deny(call, known.code, known.reason);
  // Unexpected failure inside a stage: deny with the stage's code. The cause is kept off the
  // error's message because it may quote a secret (a store URL, a token fragment); a passed
  // deadline's own message names only the dependency and the deadline.
  const failure = STAGE_FAILURE[call.stage];
  const denial = deny(call, failure.code, err instanceof DeadlineError ? `${err.message}; the call is denied (fail closed)` : failure.reason);
  Object.defineProperty(denial, 'cause', { value: safeCause(err), enumerable: false });
  return denial;
}

export const APPROVAL_PENDING_EVENT = 'tessera.approval.pending';
const APPROVAL_ROUTE_ATTR = 'tessera.approval.route';

// The host's hook is told, never waited for: a slow or failing hook cannot hold or fail the call.
function announcePending(hook: ((info: ApprovalPendingInfo) => void | Promise<void>) | undefined, info: ApprovalPendingInfo): void {
  if (hook === undefined) return;
  try {
    const r = hook(info) as unknown;
    if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
      (r as PromiseLike<unknown>).then(undefined, () => undefined);
    }
  } catch {
    // Ignored by contract: the hook only informs.
  }
}
