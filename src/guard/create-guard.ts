/**
 * createGuard: the data plane that runs where the tools run. Options are validated once here;
 * the call path then runs on prepared, plain values.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { z } from 'zod';
import { createChainVerifier } from '../capability/delegation-chain.js';
import { createCapabilityVerifier, type TrustedIssuer } from '../capability/verify.js';
import { createSignedCredentials, parseSignIn } from '../credentials/call-credential.js';
import { createAgentContext } from './agent-context.js';
import { createIdentityBinder } from './identity-binding.js';
import { createProofChecker, parseProofOptions } from './proof-checker.js';
import { riskBaseline } from '../policy/baseline.js';
import { createMemoryStore } from '../store/memory.js';
import { createRevoker } from '../store/revocation.js';
import { withScopedAttributes } from '../telemetry/call-attributes.js';
import { createRecorder } from '../telemetry/recorder.js';
import { durationSeconds, systemClock } from '../util/time.js';
import { prepareTool, wrapTool } from './guard-tool.js';
import { type GuardRuntime, type PreparedTool } from './pipeline.js';
import { checkPreflightOptions, preflightCall, unknownToolDecision } from './preflight.js';
import type {
  CapabilityBinding,
  CapabilityContext,
  Guard,
  GuardOptions,
  GuardTimeouts,
  GuardedTool,
  ToolDefinition,
  ToolImplementation,
} from './types.js';

/** Internal hooks later stages plug into (identity proofs, delegation). Not public API. */
export const GUARD_RUNTIME: unique symbol = Symbol('tessera.guard.runtime');

export interface GuardInternals {
  readonly [GUARD_RUNTIME]: GuardRuntime;
}

function requireString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${option} must be a non-empty string`);
  return value;
}

function requireMs(value: number | undefined, fallback: number, option: string, max = 3_600_000): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0 || v > max) throw new RangeError(`${option} must be a positive number of ms up to ${max}`);
  return v;
}

const TIMEOUT_DEFAULTS: Readonly<Required<GuardTimeouts>> = Object.freeze({
  identityMs: 10_000,
  keysMs: 10_000,
  proofMs: 2_000,
  credentialMs: 10_000,
  storeMs: 2_000,
});

/** Validates `timeouts`: a misspelt name would otherwise leave a dependency on its default silently. */
function parseTimeouts(value: unknown): Readonly<Required<GuardTimeouts>> {
  if (value === undefined) return TIMEOUT_DEFAULTS;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError('timeouts must be an object of deadlines in ms');
  const given = value as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(TIMEOUT_DEFAULTS, key)) {
      throw new TypeError(`timeouts.${key} is not an option; use ${Object.keys(TIMEOUT_DEFAULTS).join(', ')}`);
    }
  }
  const out = { ...TIMEOUT_DEFAULTS };
  for (const key of Object.keys(TIMEOUT_DEFAULTS) as (keyof GuardTimeouts)[]) {
    const v = given[key];
    if (v === undefined) continue;
    if (typeof v !== 'number') throw new TypeError(`timeouts.${key} must be a number of ms`);
    out[key] = requireMs(v, TIMEOUT_DEFAULTS[key], `timeouts.${key}`, 300_000);
  }
  return Object.freeze(out);
}

/** A key source is the issuer's code: each fetch gets the guard's key deadline unless the entry sets its own. */
function withKeyDeadline(t: TrustedIssuer, keysMs: number): TrustedIssuer {
  return t.fetchTimeoutMs === undefined ? { ...t, fetchTimeoutMs: Math.min(keysMs, 60_000) } : t;
}

export function createGuard(options: GuardOptions): Guard {
  if (options === null || typeof options !== 'object') throw new TypeError('createGuard needs an options object');
  const audience = requireString(options.audience, 'audience');
  const trust: readonly TrustedIssuer[] = Array.isArray(options.trust) ? options.trust : [options.trust as TrustedIssuer];
  if (trust.length === 0) throw new TypeError('trust must name at least one issuer');
  for (const t of trust) {
    requireString(t?.issuer, 'trust.issuer');
  }
  const timeouts = parseTimeouts(options.timeouts);
  const clock = options.clock ?? systemClock;
  const clockSkewSec = options.clockSkewSec ?? 30;
  if (!Number.isFinite(clockSkewSec) || clockSkewSec < 0 || clockSkewSec > 300) throw new RangeError('clockSkewSec must be between 0 and 300');
  const maxLifetimeSec = durationSeconds(options.maxCapabilityLifetime ?? '24h', 'maxCapabilityLifetime');
  const store = options.store ?? createMemoryStore({ clock });
  const credentialIssuer = options.credentials?.issuer ?? `urn:tessera:guard:${audience}`;
  const signIn = parseSignIn(options.credentials?.signIn, options.credentials?.provider !== undefined);
  const signed =
    options.credentials?.provider === undefined
      ? createSignedCredentials({
          issuer: credentialIssuer,
          store,
          clock,
          signIn,
          ...(options.credentials?.signingKey ? { signingKey: options.credentials.signingKey } : {}),
        })
      : undefined;
  const credentialTtlSec = durationSeconds(options.credentials?.ttl ?? '30s', 'credentials.ttl');
  const policy = options.policy === undefined ? [riskBaseline] : Array.isArray(options.policy) ? [...options.policy] : [options.policy];
  for (const p of policy) {
    if (p === null || typeof p !== 'object' || typeof (p as { evaluate?: unknown }).evaluate !== 'function') {
      throw new TypeError('policy must be a PolicyEngine (an object with evaluate) or an array of them');
    }
  }
  if (options.approver !== undefined && typeof options.approver !== 'function') throw new TypeError('approver must be a function');
  if (options.onApprovalPending !== undefined && typeof options.onApprovalPending !== 'function') throw new TypeError('onApprovalPending must be a function');

  const verifier = createCapabilityVerifier({
    audience,
    trust: trust.map((t) => withKeyDeadline(t, timeouts.keysMs)),
    clock,
    clockSkewSec,
    maxLifetimeSec,
    maxTokenBytes: 16 * 1024,
    verifyChain: createChainVerifier({ maxDepth: options.maxDelegationDepth ?? 3 }),
    ...(options.verifyCacheMaxBytes === undefined ? {} : { cacheMaxBytes: options.verifyCacheMaxBytes }),
  });
  const als = new AsyncLocalStorage<CapabilityContext>();
  const currentBinding = (): CapabilityContext | undefined => als.getStore();
  const agents = createAgentContext();
  const bindIdentity = createIdentityBinder({
    verifier: options.identity,
    requireIdentity: options.requireIdentity === true,
    clock,
    timeoutMs: timeouts.identityMs,
  });
  const checkProof = createProofChecker({ ...parseProofOptions(options.proof), audience, clock, clockSkewSec, timeoutMs: timeouts.proofMs });

  const runtime: GuardRuntime = {
    audience,
    clock,
    clockSkewSec,
    store,
    verify: verifier.verify,
    cached: verifier.cached,
    bindIdentity: (cap, binding) => bindIdentity(cap, agents.complete(binding)),
    checkProof: (cap, binding, call) => checkProof(cap, agents.complete(binding), call),
    credentials: options.credentials?.provider ?? signed!,
    credentialTtlSec,
    policy,
    policyTimeoutMs: requireMs(options.policyTimeoutMs, 1000, 'policyTimeoutMs'),
    approver: options.approver,
    approvalTimeoutMs: requireMs(options.approvalTimeoutMs, 60_000, 'approvalTimeoutMs', 24 * 3_600_000),
    onApprovalPending: options.onApprovalPending,
    timeouts,
    environment: Object.freeze({ ...(options.environment ?? {}) }),
    recorder: withScopedAttributes(createRecorder(options.telemetry)),
    currentBinding,
  };

  // The authority's clock may run ahead of ours: a stop also covers tokens issued up to the
  // allowed skew after it, so that nothing granted before the stop slips through.
  const revoker = createRevoker(store, clock, { keepMs: (maxLifetimeSec + clockSkewSec + 60) * 1000, aheadMs: clockSkewSec * 1000 });
  // For preflight: the latest tool registered under each name, and each guarded tool's own.
  const toolsByName = new Map<string, PreparedTool>();
  const preparedOf = new WeakMap<object, PreparedTool>();

  const guard: Guard & GuardInternals = {
    [GUARD_RUNTIME]: runtime,
    audience,
    store,
    credentialIssuer,
    credentialJwks() {
      if (signed === undefined) throw new TypeError('credentialJwks() is only available with the built-in signed call credentials');
      return signed.jwks();
    },
    withCapability<T>(binding: CapabilityBinding, fn: () => T): T {
      const ctx: CapabilityContext = typeof binding === 'string' ? { capability: binding } : binding;
      if (ctx === null || typeof ctx !== 'object' || typeof ctx.capability !== 'string') {
        throw new TypeError('withCapability needs a capability token or { capability, identity?, prover? }');
      }
      return als.run(ctx, fn);
    },
    currentBinding,
    withAgent: agents.run,
    tool<S extends z.ZodType, R>(definition: ToolDefinition<S>, implementation: ToolImplementation<S, R>): GuardedTool<S, R> {
      const prepared = prepareTool(definition);
      const guarded = wrapTool(guard, runtime, prepared, implementation);
      toolsByName.set(prepared.name, prepared);
      preparedOf.set(guarded, prepared);
      return guarded;
    },
    preflight(tool, args, preflightOptions) {
      checkPreflightOptions(preflightOptions);
      if (typeof tool !== 'string' && tool?.guard !== guard) throw new TypeError('preflight: the tool was not made by this guard');
      const prepared = typeof tool === 'string' ? toolsByName.get(tool) : preparedOf.get(tool);
      if (prepared === undefined) return Promise.resolve(unknownToolDecision(String(tool), preflightOptions));
      return preflightCall(runtime, prepared, args, preflightOptions);
    },
    inspect: (token: string) => verifier.verify(token),
    revokeCapability: revoker.revokeCapability,
    revokeAgent: revoker.revokeAgent,
    revokeIntent: revoker.revokeIntent,
  };
  return guard;
}
