/**
 * One guarded call, stage by stage. Every stage fails closed: a thrown error, a passed deadline
 * or an unreachable store becomes a denial with its own code, and the tool's implementation
 * never runs. Every call into code the guard does not own has a deadline, started only when
 * that code answers with a promise. One readable function over small steps.
 */
import { context, type Span } from '@opentelemetry/api';
import type { z } from 'zod';
import type { VerifiedCapability } from '../capability/verify.js';
import { CREDENTIAL_MARGIN_SEC } from '../credentials/call-credential.js';
import type { Credential, CredentialProvider, CredentialRequest } from '../credentials/types.js';
import { DENIAL_STANDARDS, type DenialCode, safeCause, standardsTags, TesseraError, ToolDeniedError } from '../errors.js';
import type { AgentIdentity } from '../identity/types.js';
import { APPROVAL_MARKER_TTL_MS, askApproval, previewArguments } from '../policy/approval.js';
import { evaluatePolicies } from '../policy/evaluate.js';
import type { Approver, PolicyEngine, RiskTier } from '../policy/types.js';
import type { CallReservation, TesseraStore } from '../store/types.js';
import { ATTR, OPERATION_EXECUTE_TOOL } from '../telemetry/attributes.js';
import type { Recorder } from '../telemetry/recorder.js';
import { hashArguments, NotJsonError, randomId } from '../util/canonical.js';
import { DeadlineError, LazySignal, withDeadline } from '../util/deadline.js';
import { SnapshotError, snapshotArguments } from '../util/snapshot.js';
import type { Clock } from '../util/time.js';
import { counterKey, proofMarkerKey, revocationChecks, withAncestorCounters } from './reservation.js';
import type { ApprovalPendingInfo, CallOptions, CapabilityContext, GuardTimeouts, ToolContext, ToolDefinition, ToolType } from './types.js';

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
  ) => undefined | { jti: string; ttlMs: number } | Promise<undefined | { jti: string; ttlMs: number }>;
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
}

const NONE: readonly never[] = Object.freeze([]);

// One shared signal for calls made without one: creating an AbortController per call is costly.
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** A tool definition with its defaults filled in, as the pipeline sees it. */
export interface PreparedTool {
  readonly name: string;
  readonly description: string;
  readonly input: z.ZodType;
  readonly risk: RiskTier;
  readonly type: ToolType;
  readonly credentialAudience: string;
  readonly credentialTtlSec: number | undefined;
  readonly definition: ToolDefinition;
}

/** The code a stage's unexpected failure maps to: fail closed, with the right name. */
const STAGE_FAILURE: Readonly<Record<string, DenialCode>> = {
  resolve: 'capability_missing',
  verify: 'capability_invalid',
  identity: 'identity_unavailable',
  proof: 'proof_invalid',
  scope: 'arguments_invalid',
  store: 'store_unavailable',
  policy: 'policy_error',
  approval: 'approval_denied',
  mint: 'credential_unavailable',
};

const STAGE_REASON: Record<string, string> = {
  resolve: 'the capability could not be resolved for this call',
  verify: 'the capability could not be verified',
  identity: "the agent's identity could not be verified (identity provider or trust bundle unavailable)",
  proof: 'the proof of possession could not be checked',
  scope: 'the arguments could not be checked against the grant',
  store: 'the guard store could not be reached; calls are denied until it answers',
  policy: 'a policy engine failed; calls are denied until it answers',
  approval: 'the approval could not be obtained',
  mint: 'the credential for this call could not be minted',
};

export async function runGuardedCall(
  rt: GuardRuntime,
  tool: PreparedTool,
  implementation: (args: unknown, ctx: ToolContext) => unknown,
  rawArgs: unknown,
  options: CallOptions | undefined,
): Promise<unknown> {
  const t0 = performance.now();
  const callId = options?.callId ?? randomId();
  const { span, owned, ctx: spanCtx } = rt.recorder.start(tool.name, {
    [ATTR.OPERATION_NAME]: OPERATION_EXECUTE_TOOL,
    [ATTR.TOOL_NAME]: tool.name,
    [ATTR.TOOL_CALL_ID]: callId,
    [ATTR.TOOL_DESCRIPTION]: tool.description,
    [ATTR.TOOL_TYPE]: tool.type,
    [ATTR.RISK]: tool.risk,
  });
  const call = { span, owned };
  let stage = 'resolve';
  let cap: VerifiedCapability | undefined;
  let policyIds: readonly string[] = [];

  const deny = (code: DenialCode, reason: string): never => {
    throw new ToolDeniedError(code, reason, {
      tool: tool.name,
      callId,
      ...(cap ? { capabilityId: cap.id, intentId: cap.intent.id } : {}),
      policyIds,
    });
  };

  const signal = options?.signal ?? NEVER_ABORTED;
  const { timeouts } = rt;
  // What the credential provider sees as its signal: made only if it reads it, aborted when the
  // caller aborts or the provider's deadline passes.
  const credentialSignal = new LazySignal(signal);
  let credential: Credential | undefined;
  let credentialRequest: CredentialRequest | undefined;
  let implStart = 0;
  let implEnd = 0;
  let outcome: { decision: 'allow' | 'deny' | 'error'; code?: string; errorType?: string } = { decision: 'allow' };

  try {
    // 1 resolve: from the call options or the async context; never from the model's arguments.
    if (signal.aborted) deny('call_aborted', 'the call was aborted by its caller before it was authorized; nothing ran');
    const given = options?.capability ?? rt.currentBinding();
    const binding: CapabilityContext | undefined = typeof given === 'string' ? { capability: given } : given;
    if (binding === undefined || typeof binding.capability !== 'string' || binding.capability === '') {
      deny('capability_missing', 'no capability is bound to this call; run the agent inside guard.withCapability(token, fn) or pass { capability }');
    }

    // 2 verify (cached until expiry)
    stage = 'verify';
    cap =
      rt.cached(binding!.capability) ??
      (await withDeadline(rt.verify(binding!.capability), timeouts.keysMs, "the capability's issuer keys"));
    span.setAttributes({
      [ATTR.CAPABILITY_ID]: cap.id,
      [ATTR.INTENT_ID]: cap.intent.id,
      [ATTR.AGENT_ID]: cap.subject,
      [ATTR.DELEGATION_DEPTH]: cap.chain.depth,
    });
    if (cap.chain.depth > 0) {
      span.setAttributes({ [ATTR.DELEGATION_CHAIN]: [...cap.chain.agents], [ATTR.DELEGATION_ROOT_ID]: cap.chain.ids[0]! });
    }

    // 3 bind: the capability's subject is the verified identity running this call
    stage = 'identity';
    const bound = rt.bindIdentity(cap, binding!);
    const agent = bound instanceof Promise ? await bound : bound;
    span.setAttribute(ATTR.IDENTITY_SOURCE, agent.source);

    // 5 scope: granted tool, arguments parsed by the tool's schema, then the grant's constraints
    stage = 'scope';
    const grant = cap.tools.get(tool.name);
    if (grant === undefined) deny('tool_not_granted', notGrantedReason(cap, tool.name));
    // A proof of possession covers the arguments as the caller passed them: those are snapshotted
    // first, so that the proof, the schema and the tool all see the same values.
    const input = cap.confirmationJkt === undefined ? rawArgs : snapshotOrDeny(rawArgs, true, deny);
    const parsed = tool.input.safeParse(input);
    if (!parsed.success) {
      deny('arguments_invalid', `the arguments do not match the tool's schema: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
        .join('; ')}`);
    }
    // ONE deeply frozen snapshot of the parsed arguments: constraints, hash, policy, approval,
    // credential and tool all get this value, and nothing the caller holds can change it.
    const args = snapshotOrDeny(parsed.data, false, deny) as Readonly<Record<string, unknown>>;
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      deny('arguments_invalid', "the tool's schema must produce an object of named arguments");
    }
    const violation = grant!.check(args as Record<string, unknown>);
    if (violation !== undefined) deny('arguments_out_of_scope', `${violation} (intent "${cap.intent.id}")`);
    let argsHash: string;
    try {
      argsHash = hashArguments(args);
    } catch (err) {
      if (err instanceof NotJsonError) deny('arguments_invalid', `the arguments are not JSON data: ${err.message}`);
      throw err;
    }
    span.setAttribute(ATTR.ARGS_HASH, argsHash!);
    if (rt.recorder.recordArguments) span.setAttribute(ATTR.TOOL_CALL_ARGUMENTS, JSON.stringify(args));

    // 3b proof of possession, bound to this exact call
    stage = 'proof';
    const proved = rt.checkProof(cap, binding!, { tool: tool.name, callId, rawArgs: input, proof: options?.proof });
    const proof = proved instanceof Promise ? await proved : proved;

    // 4 + 6 revocation, call limits, single-use markers, credential registration: one round trip
    stage = 'store';
    const nowMs = rt.clock();
    // The capability is accepted until its exp plus the clock skew: its counters outlive both.
    const counterMarginMs = (rt.clockSkewSec + 60) * 1000;
    const capTtlMs = Math.max(1000, cap.chainExpiresAt * 1000 - nowMs + counterMarginMs);
    const credentialId = randomId();
    const credentialTtlSec = tool.credentialTtlSec ?? rt.credentialTtlSec;
    // The credential stops verifying at its exp; its marker outlives that by a margin for clock skew.
    const credentialRegistration = [{ id: credentialId, ttlMs: (credentialTtlSec + CREDENTIAL_MARGIN_SEC) * 1000 }];
    const reservation: CallReservation = {
      revocations: revocationChecks(cap),
      counters: grant!.maxCalls === undefined ? NONE : [{ key: counterKey(cap.id, tool.name), limit: grant!.maxCalls, ttlMs: capTtlMs }],
      once: proof ? [{ key: proofMarkerKey(cap.id, proof.jti), ttlMs: proof.ttlMs }] : NONE,
      credentials: credentialRegistration,
    };
    const reserving = withDeadline(
      rt.store.reserve(withAncestorCounters(reservation, cap, tool.name, nowMs, counterMarginMs)),
      timeouts.storeMs,
      'the guard store',
    );
    const reserved = reserving instanceof Promise ? await reserving : reserving;
    if (!reserved.ok) {
      if (reserved.reason === 'revoked') {
        deny('capability_revoked', `the capability was revoked (${reserved.key.split(':')[0]} revocation); ask the authority for a new grant`);
      }
      if (reserved.reason === 'limit') {
        deny('call_limit_exceeded', `"${tool.name}" may be called at most ${reserved.limit} time(s) under this capability`);
      }
      deny('replay_detected', 'this proof of possession was already used; sign a fresh proof for each call');
    }

    // 7 policy at the moment of the call
    stage = 'policy';
    const policyRequest = {
      agent,
      intent: cap.intent,
      tool: { name: tool.name, risk: tool.risk, description: tool.description },
      args,
      capabilityId: cap.id,
      delegation: { depth: cap.chain.depth, chain: cap.chain.agents },
      environment: rt.environment,
      time: nowMs,
    };
    const evaluating = evaluatePolicies(rt.policy, policyRequest, rt.policyTimeoutMs);
    const decision = evaluating instanceof Promise ? await evaluating : evaluating;
    policyIds = decision.policyIds;
    span.setAttribute(ATTR.POLICY_EFFECT, decision.effect);
    if (policyIds.length > 0) span.setAttribute(ATTR.POLICY_IDS, [...policyIds]);
    if (decision.effect === 'error') deny('policy_error', `${decision.reason}; the call is denied (fail closed)`);
    if (decision.effect === 'deny') deny('policy_denied', decision.reason);

    // 8 approval for high-risk calls
    if (decision.effect === 'require_approval') {
      stage = 'approval';
      if (rt.approver === undefined) {
        deny('approval_denied', `${decision.reason}; this guard has no approver configured, so the call is denied`);
      }
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
        rt.approver!,
        {
          agent: agent.id,
          intent: cap.intent,
          tool: tool.name,
          risk: tool.risk,
          argsPreview: previewArguments(args),
          argsHash: argsHash!,
          capabilityId: cap.id,
          callId,
          why: decision.reason,
          policyIds,
          timeoutMs: rt.approvalTimeoutMs,
          pending,
        },
        rt.approvalTimeoutMs,
        signal,
      );
      waiting = false;
      span.setAttribute(ATTR.APPROVAL_WAIT_MS, answer.waitMs);
      if (signal.aborted) deny('call_aborted', 'the call was aborted by its caller while it waited for approval; nothing ran');
      if (answer.outcome === 'timeout') {
        span.setAttribute(ATTR.APPROVAL_DECISION, 'timeout');
        deny('approval_timeout', `no approver answered within ${rt.approvalTimeoutMs} ms`);
      }
      if (answer.outcome === 'error') {
        span.setAttribute(ATTR.APPROVAL_DECISION, 'error');
        deny('approval_denied', 'the approver failed; the call is denied (fail closed)');
      }
      if (answer.outcome === 'denied') {
        span.setAttribute(ATTR.APPROVAL_DECISION, 'denied');
        if (answer.approver !== undefined) span.setAttribute(ATTR.APPROVAL_APPROVER, answer.approver);
        deny('approval_denied', `the approver refused: ${answer.reason}`);
      }
      if (answer.outcome === 'mismatch') {
        span.setAttribute(ATTR.APPROVAL_DECISION, 'mismatch');
        if (answer.approver !== undefined) span.setAttribute(ATTR.APPROVAL_APPROVER, answer.approver);
        deny('approval_denied', 'the approval was given for a different call (tool, arguments or capability differ); an approval covers one exact call');
      }
      const approved = answer as Extract<typeof answer, { outcome: 'approved' }>;
      if (approved.approver !== undefined) span.setAttribute(ATTR.APPROVAL_APPROVER, approved.approver);
      if (approved.id !== undefined) {
        // Single use across every process sharing the store: a replayed approval id is refused.
        stage = 'store';
        const fresh = await withDeadline(
          rt.store.consumeOnce(`approval:${approved.id}`, Math.max(capTtlMs, APPROVAL_MARKER_TTL_MS)),
          timeouts.storeMs,
          'the guard store',
        );
        stage = 'approval';
        if (fresh !== true) {
          span.setAttribute(ATTR.APPROVAL_DECISION, 'replayed');
          deny('approval_denied', 'this approval was already used for another call; each approval covers one call, ask again');
        }
      }
      span.setAttribute(ATTR.APPROVAL_DECISION, 'approved');

      // An approval may take minutes. Before minting, revocation is checked again (a stop pressed
      // while the human was deciding still wins) and the credential's registration is renewed
      // so that it lives as long as the credential minted now.
      stage = 'store';
      const renewed = await withDeadline(
        rt.store.reserve({
          revocations: revocationChecks(cap),
          counters: NONE,
          once: NONE,
          credentials: credentialRegistration,
        }),
        timeouts.storeMs,
        'the guard store',
      );
      if (!renewed.ok) {
        deny('capability_revoked', 'the capability was revoked while the call waited for approval; ask the authority for a new grant');
      }
    }

    // 9 mint a single-use credential for this one call, never outliving the capability
    stage = 'mint';
    if (signal.aborted) deny('call_aborted', 'the call was aborted by its caller before its credential was minted; nothing ran');
    const remainingSec = remainingLifetimeSec(rt, cap, deny);
    credentialRequest = {
      credentialId,
      tool: tool.name,
      callId,
      argsHash: argsHash!,
      agent: agent.id,
      intentId: cap.intent.id,
      capabilityId: cap.id,
      audience: tool.credentialAudience,
      ttlSec: Math.min(credentialTtlSec, remainingSec),
      get signal() {
        return credentialSignal.signal;
      },
    };
    const minting = withDeadline(rt.credentials.mint(credentialRequest), timeouts.credentialMs, 'the credential provider', (err) =>
      credentialSignal.abort(err),
    );
    if (minting instanceof Promise) {
      credential = await minting;
      // A slow provider can outlast the capability too.
      remainingLifetimeSec(rt, cap, deny);
    } else {
      credential = minting;
    }
    if (credential === null || typeof credential !== 'object' || typeof credential.id !== 'string') {
      credential = undefined;
      deny('credential_unavailable', 'the credential provider returned no credential');
    }
    span.setAttributes({ [ATTR.CREDENTIAL_ID]: credential!.id, [ATTR.CREDENTIAL_TYPE]: credential!.type });
    if (signal.aborted) deny('call_aborted', 'the call was aborted by its caller before the tool ran; nothing ran');
    stage = 'execute';

    // 10 execute with exactly the snapshot that was checked
    const toolCtx: ToolContext = {
      credential: credential!,
      callId,
      agent,
      intent: cap.intent,
      capabilityId: cap.id,
      signal,
      sideEffect: (kind, attributes) => rt.recorder.sideEffect(span, kind, attributes),
    };
    implStart = performance.now();
    try {
      return await context.with(spanCtx, () => implementation(args, toolCtx));
    } finally {
      implEnd = performance.now();
    }
  } catch (err) {
    if (stage !== 'execute') {
      const denial = toDenial(err, stage, tool.name, callId, cap, policyIds);
      recordDenial(span, denial);
      outcome = { decision: 'deny', code: denial.code };
      throw denial;
    }
    // The tool's own error is rethrown unchanged; the span records its type only, since a
    // message may quote data the tool handled.
    span.recordException({ name: err instanceof Error ? err.name : 'NonError', message: '' });
    outcome = { decision: 'error', errorType: err instanceof Error ? err.constructor.name || err.name : 'NonError' };
    throw err;
  } finally {
    // 11 revoke the credential whatever happened, within the provider's deadline: a provider that
    // never answers cannot hold the call's result back.
    if (credential !== undefined && credentialRequest !== undefined) {
      try {
        const revoking = withDeadline(rt.credentials.revoke(credential, credentialRequest), timeouts.credentialMs, 'the credential provider', (err) =>
          credentialSignal.abort(err),
        );
        if (revoking instanceof Promise) await revoking;
      } catch (revokeErr) {
        span.setAttribute(ATTR.CREDENTIAL_REVOKE_ERROR, revokeErr instanceof Error ? revokeErr.name : 'NonError');
      }
    }
    credentialSignal.release();
    // 12 record
    finishCall(rt, call, t0, implStart, implEnd, tool.name, outcome);
  }
}

/** Seconds the capability (its whole chain) still lives; denies when its window has closed. */
function remainingLifetimeSec(rt: GuardRuntime, cap: VerifiedCapability, deny: (code: DenialCode, reason: string) => never): number {
  const nowMs = rt.clock();
  if (nowMs >= (cap.chainExpiresAt + rt.clockSkewSec) * 1000) {
    deny('capability_expired', 'the capability expired while the call was being authorized; nothing ran, ask the authority for a new grant');
  }
  if (nowMs < (cap.notBefore - rt.clockSkewSec) * 1000) deny('capability_invalid', 'the capability is not valid yet (nbf is in the future)');
  // A credential lives in whole seconds and never past the capability's own exp.
  const remaining = Math.floor(cap.chainExpiresAt - nowMs / 1000);
  if (remaining < 1) {
    deny('capability_expired', 'the capability has less than a second left, too little for a call credential; ask the authority for a new grant');
  }
  return remaining;
}

/** Arguments as one frozen snapshot, or an `arguments_invalid` denial naming the path. */
function snapshotOrDeny(value: unknown, remember: boolean, deny: (code: DenialCode, reason: string) => never): unknown {
  try {
    return snapshotArguments(value, { remember });
  } catch (err) {
    if (err instanceof SnapshotError) return deny('arguments_invalid', `the arguments are not plain JSON data at ${err.path}: ${err.problem}`);
    throw err;
  }
}

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

function finishCall(
  rt: GuardRuntime,
  call: { span: Span; owned: boolean },
  t0: number,
  implStart: number,
  implEnd: number,
  tool: string,
  outcome: { decision: 'allow' | 'deny' | 'error'; code?: string; errorType?: string },
): void {
  const total = performance.now() - t0;
  const overheadUs = (total - (implEnd - implStart)) * 1000;
  rt.recorder.finish(call, outcome.decision, tool, overheadUs, outcome.code, outcome.errorType);
}

function recordDenial(span: Span, denial: ToolDeniedError): void {
  span.setAttributes({
    [ATTR.DENIAL_CODE]: denial.code,
    [ATTR.DENIAL_REASON]: denial.reason,
    [ATTR.STANDARDS]: standardsTags(denial.code),
  });
}

function toDenial(
  err: unknown,
  stage: string,
  tool: string,
  callId: string,
  cap: VerifiedCapability | undefined,
  policyIds: readonly string[],
): ToolDeniedError {
  if (err instanceof ToolDeniedError) return err;
  const details = {
    tool,
    callId,
    ...(cap ? { capabilityId: cap.id, intentId: cap.intent.id } : {}),
    policyIds,
  };
  if (err instanceof TesseraError && Object.hasOwn(DENIAL_STANDARDS, err.code)) {
    const reason = (err as TesseraError & { reason?: unknown }).reason;
    return new ToolDeniedError(err.code as DenialCode, typeof reason === 'string' ? reason : err.message, details);
  }
  // Unexpected failure inside a stage: deny with the stage's code. The cause is kept off the
  // error's message because it may quote a secret (a store URL, a token fragment); a passed
  // deadline's own message names only the dependency and the deadline.
  const code = STAGE_FAILURE[stage] ?? 'capability_invalid';
  const reason =
    err instanceof DeadlineError
      ? `${err.message}; the call is denied (fail closed)`
      : (STAGE_REASON[stage] ?? 'the call could not be authorized');
  const denial = new ToolDeniedError(code, reason, details);
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
