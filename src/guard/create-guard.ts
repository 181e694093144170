/**
 * createGuard: the data plane that runs where the tools run. Options are validated once here;
 * the call path then runs on prepared, plain values.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Meter, Tracer } from '@opentelemetry/api';
import { z } from 'zod';
import { createChainVerifier } from '../capability/delegation-chain.js';
import { createCapabilityVerifier, type TrustedIssuer } from '../capability/verify.js';
import { createSignedCredentials, parseSignIn } from '../credentials/call-credential.js';
import { createAgentContext } from './agent-context.js';
import { createIdentityBinder } from './identity-binding.js';
import { createProofChecker, parseProofOptions, proofOptionsSchema } from './proof-checker.js';
import { riskBaseline } from '../policy/baseline.js';
import { createMemoryStore } from '../store/memory.js';
import { createRevoker } from '../store/revocation.js';
import { withScopedAttributes } from '../telemetry/call-attributes.js';
import { createRecorder } from '../telemetry/recorder.js';
import { clockOption, durationOption, functionOption, msOption, objectOption, objectWithMethods } from '../util/option-schemas.js';
import { identityVerifierOption } from '../identity/options.js';
import { storeOption } from '../store/options.js';
import { parseOptions } from '../util/options.js';
import { durationSeconds, systemClock } from '../util/time.js';
import { GUARD_TOOL, prepareTool, wrapTool } from './guard-tool.js';
import { type GuardRuntime, type PreparedTool } from './pipeline.js';
import { checkPreflightOptions, preflightCall, unknownToolDecision } from './preflight.js';
import type { PrivateKeyInput } from '../jose/keys.js';
import type { CredentialProvider } from '../credentials/types.js';
import type { Approver } from '../policy/types.js';
import type {
  CapabilityBinding,
  CapabilityContext,
  Guard,
  GuardOptions,
  GuardTimeouts,
  ApprovalPendingInfo,
  GuardedTool,
  ToolDefinition,
  ToolImplementation,
} from './types.js';

/** Internal hooks later stages plug into (identity proofs, delegation). Not public API. */
export const GUARD_RUNTIME: unique symbol = Symbol('tessera.guard.runtime');

export interface GuardInternals {
  readonly [GUARD_RUNTIME]: GuardRuntime;
  readonly [GUARD_TOOL]: <S extends z.ZodType, R>(definition: ToolDefinition<S>, implementation: ToolImplementation<S, R>) => GuardedTool<S, R>;
}

const TIMEOUT_DEFAULTS: Readonly<Required<GuardTimeouts>> = Object.freeze({
  identityMs: 10_000,
  keysMs: 10_000,
  proofMs: 2_000,
  credentialMs: 10_000,
  storeMs: 2_000,
});

const isPolicyEngine = (p: unknown): boolean =>
  typeof p === 'object' && p !== null && typeof (p as { evaluate?: unknown }).evaluate === 'function';

// Value checks that need the issuer's name in the message (https, asymmetric algorithms,
// refresh ranges) stay with the verifier; this only pins the shape.
const trustedIssuerSchema = z.strictObject({
  issuer: z.string().min(1),
  // Absent: the keys are discovered from the issuer's RFC 8414 metadata.
  jwks: z
    .custom<NonNullable<TrustedIssuer['jwks']>>((v) => v !== undefined && v !== null, {
      message: 'must be a JWKS ({ keys: [...] }), a function returning one, or a URL',
    })
    .optional(),
  algorithms: z.array(z.string()).optional(),
  refreshIntervalMs: z.number().optional(),
  maxStaleMs: z.number().optional(),
  fetchTimeoutMs: z.number().optional(),
});

const guardOptionsBase = {
  audience: z.string().min(1),
  mode: z.enum(['enforce', 'shadow']).optional(),
  store: storeOption.optional(),
  credentials: z
    .strictObject({
      provider: objectWithMethods<CredentialProvider>(['mint', 'revoke'], 'a CredentialProvider (an object with mint and revoke)').optional(),
      issuer: z.string().min(1).optional(),
      ttl: durationOption.optional(),
      signingKey: objectOption<PrivateKeyInput>('a private KeyObject, CryptoKey or private JWK').optional(),
      signIn: z.enum(['main', 'threadpool']).optional(),
    })
    .optional(),
  policy: z
    .custom<GuardOptions['policy']>((v) => isPolicyEngine(v) || (Array.isArray(v) && v.every(isPolicyEngine)), {
      message: 'must be a PolicyEngine (an object with evaluate) or an array of them',
    })
    .optional(),
  policyTimeoutMs: msOption(3_600_000).optional(),
  approver: functionOption<Approver>('an Approver (a function of the approval request)').optional(),
  approvalTimeoutMs: msOption(24 * 3_600_000).optional(),
  onApprovalPending: functionOption<(info: ApprovalPendingInfo) => void | Promise<void>>('a function told when an approval is pending').optional(),
  timeouts: z
    .strictObject({
      identityMs: msOption(300_000).optional(),
      keysMs: msOption(300_000).optional(),
      proofMs: msOption(300_000).optional(),
      credentialMs: msOption(300_000).optional(),
      storeMs: msOption(300_000).optional(),
    })
    .optional(),
  identity: identityVerifierOption.optional(),
  requireIdentity: z.boolean().optional(),
  proof: proofOptionsSchema.optional(),
  environment: z.record(z.string(), z.unknown()).optional(),
  telemetry: z
    .strictObject({
      tracer: objectWithMethods<Tracer>(['startSpan'], 'an OpenTelemetry Tracer').optional(),
      meter: objectWithMethods<Meter>(['createCounter', 'createHistogram'], 'an OpenTelemetry Meter').optional(),
      spanMode: z.enum(['create', 'enrich']).optional(),
      recordArguments: z.boolean().optional(),
      evidence: z.boolean().optional(),
    })
    .optional(),
  clockSkewSec: z.number().min(0).max(300).optional(),
  maxCapabilityLifetime: durationOption.optional(),
  maxDelegationDepth: z.number().int().min(0).max(16).optional(),
  verifyCacheMaxBytes: z.number().min(0).optional(),
  clock: clockOption.optional(),
};
// `trust` is one issuer or a list: the schema follows the form given, so that a misspelt key
// inside an entry is reported as such rather than as "matches neither form".
const guardOptionsOne = z.strictObject({ ...guardOptionsBase, trust: trustedIssuerSchema });
const guardOptionsMany = z.strictObject({ ...guardOptionsBase, trust: z.array(trustedIssuerSchema).min(1) });

/** `defaults` overlaid with the values given; a key given as undefined keeps its default. */
function withDefaults<T extends object>(defaults: Readonly<Required<T>>, given: T | undefined): Readonly<Required<T>> {
  const out = { ...defaults };
  for (const [key, value] of Object.entries(given ?? {})) if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  return Object.freeze(out);
}

/** Validates every option once; the call path then reads plain values. */
function parseGuardOptions(options: GuardOptions): void {
  const many = options !== null && typeof options === 'object' && Array.isArray((options as { trust?: unknown }).trust);
  parseOptions(many ? guardOptionsMany : guardOptionsOne, options, 'createGuard options');
}

/** A key source is the issuer's code: each fetch gets the guard's key deadline unless the entry sets its own. */
function withKeyDeadline(t: TrustedIssuer, keysMs: number): TrustedIssuer {
  return t.fetchTimeoutMs === undefined ? { ...t, fetchTimeoutMs: Math.min(keysMs, 60_000) } : t;
}

export function createGuard(options: GuardOptions): Guard {
  parseGuardOptions(options);
  const audience = options.audience;
  const trust: readonly TrustedIssuer[] = Array.isArray(options.trust) ? options.trust : [options.trust as TrustedIssuer];
  const timeouts = withDefaults(TIMEOUT_DEFAULTS, options.timeouts);
  const clock = options.clock ?? systemClock;
  const clockSkewSec = options.clockSkewSec ?? 30;
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
    policyTimeoutMs: options.policyTimeoutMs ?? 1000,
    approver: options.approver,
    approvalTimeoutMs: options.approvalTimeoutMs ?? 60_000,
    onApprovalPending: options.onApprovalPending,
    timeouts,
    environment: Object.freeze({ ...(options.environment ?? {}) }),
    recorder: withScopedAttributes(createRecorder(options.telemetry)),
    currentBinding,
    mode: options.mode ?? 'enforce',
    evidence: options.telemetry?.evidence === true,
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
    [GUARD_TOOL]<S extends z.ZodType, R>(definition: ToolDefinition<S>, implementation: ToolImplementation<S, R>): GuardedTool<S, R> {
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
