/**
 * The authority: the control plane that grants intent-scoped capabilities.
 */
import { calculateJwkThumbprint, decodeJwt, type JWK } from 'jose';
import { nanoid } from 'nanoid';
import { z } from 'zod';
import { CapabilityError } from '../errors.js';
import { type Clock, type Duration, durationSeconds, systemClock } from '../util/time.js';
import { clockOption, durationOption, objectOption } from '../util/option-schemas.js';
import { identityVerifierOption } from '../identity/options.js';
import { storeOption } from '../store/options.js';
import { parseOptions } from '../util/options.js';
import { describeIssues } from '../util/zod-issues.js';
import { createRevoker, issueTimeAfterRevocations, type Revoker } from '../store/revocation.js';
import { revocationKey, type TesseraStore } from '../store/types.js';
import type { DecisionLog } from '../telemetry/decision-log/log.js';
import { grantIdentityChecker } from '../identity/grant-identity.js';
import type { IdentityVerifier } from '../identity/types.js';
import { createTokenExchange, type DelegationRequest } from './delegation.js';
import { CAPABILITY_TYP } from '../jose/typ.js';
import { intentSchema, toolsSchema, type CapabilityClaims, type Intent, type ToolGrant } from './claims.js';
import { generateSigningKey, importSigningKey, type JWKS, type PrivateKeyInput, type SigningAlgorithm, type SigningKey } from '../jose/keys.js';
import { isCapabilitySigner, localSigner, prepareSigner, type CapabilitySigner, type PreparedSigner } from './signer.js';

export interface AuthorityOptions {
  /** The `iss` of every capability; verifiers trust it by this exact string. */
  issuer: string;
  /** The signing key. When absent (and no `signer`), a fresh Ed25519 key is generated (fine for one process). */
  signingKey?: PrivateKeyInput | SigningKey;
  /**
   * Signs with a key held outside this process (a KMS, a Vault transit key): the authority never
   * sees the private key. Give `signingKey` or `signer`, not both.
   */
  signer?: CapabilitySigner;
  /** Deadline for each answer of `signer`, ms; default 5000. Past it the grant is refused. */
  signerTimeoutMs?: number;
  /** Algorithm for a generated key; default EdDSA. */
  algorithm?: SigningAlgorithm;
  /** Longest ttl a grant may ask for; default `"1h"`. */
  maxTtl?: Duration;
  /** Deepest delegation chain `delegate()` will extend, below the root grant; default 3. */
  maxDelegationDepth?: number;
  /** ttl when a grant names none; default `"5m"`. */
  defaultTtl?: Duration;
  /** Verifies `grant({ agentToken })`: the capability's `sub` must be the identity it proves. */
  identity?: IdentityVerifier;
  /** Refuse every grant that comes without a valid `agentToken`; default false. */
  requireAgentToken?: boolean;
  /**
   * The store the guards share (for example `createRedisStore`): enables `revokeCapability`,
   * `revokeAgent` and `revokeIntent` on the authority, effective on the next call in every guard.
   */
  store?: TesseraStore;
  /**
   * Appends one record per capability signed (`grant`: root grants and token-exchange
   * delegations) to this signed Merkle log (`createDecisionLog` from `tessera-guard/decision-log`).
   * While it refuses (closed, or a sink cannot write under `onSinkFailure: 'deny'`), grants are
   * refused with a `CapabilityError` whose code is `decision_log_unavailable`.
   */
  decisionLog?: DecisionLog;
  clock?: Clock;
}

export interface GrantRequest {
  /** The agent's workload identity: a SPIFFE ID or an OIDC `iss`+`sub` identity string. */
  agent: string;
  /** The guard deployment that will enforce the capability (its `aud`). */
  audience: string;
  intent: Intent;
  tools: Record<string, ToolGrant>;
  ttl?: Duration;
  /** Bind the capability to the agent's key (proof of possession): its RFC 7638 thumbprint or public JWK. */
  confirmation?: { jkt: string } | { jwk: JWK };
  /** The agent's identity token (JWT-SVID or OIDC), checked with the authority's `identity` verifier. */
  agentToken?: string;
}

/** The revocation methods need the `store` option; without it they reject with a TypeError. */
export interface Authority extends Revoker {
  readonly issuer: string;
  /** Signs a capability token (compact JWS, `typ: tessera-cap+jwt`). */
  grant(request: GrantRequest): Promise<string>;
  /**
   * Token exchange (RFC 8693): mints a child of `parent` for a sub-agent, signed by this
   * authority, under the same narrowing rules as `delegate()`. For a delegating agent without a
   * key of its own; authenticate the parent's holder before calling this.
   */
  delegate(parent: string, request: DelegationRequest): Promise<string>;
  /** Public keys verifiers trust: the current key and retired ones whose tokens may still be live. */
  jwks(): JWKS;
  /** Starts signing with a new key or signer; tokens signed by the previous key verify until they expire. */
  rotate(signingKey?: PrivateKeyInput | SigningKey | CapabilitySigner): Promise<{ kid: string }>;
  /** The current signing key id. */
  readonly kid: string;
  /** The longest lifetime of a grant (`maxTtl`), seconds: also how long a retired key stays published. */
  readonly maxTtlSec: number;
}

const optionsSchema = z.strictObject({
  issuer: z.string().min(1),
  signingKey: objectOption<PrivateKeyInput | SigningKey>('a SigningKey, a private KeyObject, CryptoKey or private JWK').optional(),
  signer: objectOption<CapabilitySigner>('a CapabilitySigner ({ publicJwk, kid?, sign(bytes) })').optional(),
  signerTimeoutMs: z.number().positive().max(300_000).optional(),
  algorithm: z.enum(['EdDSA', 'ES256']).optional(),
  maxTtl: durationOption.optional(),
  maxDelegationDepth: z.number().int().min(0).max(16).optional(),
  defaultTtl: durationOption.optional(),
  identity: identityVerifierOption.optional(),
  requireAgentToken: z.boolean().optional(),
  store: storeOption.optional(),
  decisionLog: objectOption<DecisionLog>('a DecisionLog (createDecisionLog from tessera-guard/decision-log)').optional(),
  clock: clockOption.optional(),
});

const grantSchema = z.strictObject({
  agent: z.string().min(1).max(2048),
  audience: z.string().min(1).max(512),
  intent: intentSchema,
  tools: toolsSchema,
  ttl: z.union([z.number(), z.string()]).optional(),
  confirmation: z
    .union([z.strictObject({ jkt: z.string().length(43) }), z.strictObject({ jwk: z.record(z.string(), z.unknown()) })])
    .optional(),
  agentToken: z.string().min(1).max(16 * 1024).optional(),
});

function isSigningKey(k: unknown): k is SigningKey {
  return typeof k === 'object' && k !== null && 'kid' in k && 'privateKey' in k && 'publicJwk' in k;
}

/** Creates an authority. Options are validated here, once; a bad option throws naming it. */
export async function createAuthority(options: AuthorityOptions): Promise<Authority> {
  parseOptions(optionsSchema, options, 'createAuthority options');
  const clock = options.clock ?? systemClock;
  const maxTtl = durationSeconds(options.maxTtl ?? '1h', 'maxTtl');
  const defaultTtl = durationSeconds(options.defaultTtl ?? '5m', 'defaultTtl');
  if (defaultTtl > maxTtl) throw new RangeError('defaultTtl must not exceed maxTtl');
  const checkAgentToken = grantIdentityChecker({ verifier: options.identity, require: options.requireAgentToken === true });

  if (options.signingKey !== undefined && options.signer !== undefined) throw new TypeError('createAuthority: give signingKey or signer, not both');
  const signerTimeoutMs = options.signerTimeoutMs ?? 5000;
  if (!Number.isInteger(signerTimeoutMs) || signerTimeoutMs < 1 || signerTimeoutMs > 60_000) {
    throw new RangeError('createAuthority: signerTimeoutMs must be an integer from 1 to 60000');
  }
  // A key held here signs synchronously (see localSigner); a signer elsewhere keeps its async path.
  const load = async (k: PrivateKeyInput | SigningKey | CapabilitySigner | undefined, option: string): Promise<PreparedSigner> =>
    k === undefined
      ? localSigner(await generateSigningKey(options.algorithm ?? 'EdDSA'))
      : isSigningKey(k)
        ? localSigner(k)
        : isCapabilitySigner(k)
          ? prepareSigner(k, option, signerTimeoutMs)
          : localSigner(await importSigningKey(k));

  let current = await load(options.signer ?? options.signingKey, options.signer === undefined ? 'signingKey' : 'signer');
  // Retired keys stay published until every token they signed has expired.
  const retired: { key: PreparedSigner; until: number }[] = [];
  const exchange = createTokenExchange({
    issuer: options.issuer,
    signingKey: () => current,
    jwks: () => ({ keys: [current.publicJwk, ...retired.map((r) => r.key.publicJwk)] }),
    clock,
    maxTtlSec: maxTtl,
    ...(options.maxDelegationDepth === undefined ? {} : { maxDepth: options.maxDelegationDepth }),
  });
  const revocation = authorityRevoker(options.store, clock, maxTtl);
  const log = options.decisionLog;
  const unrecorded = (): void => {
    const refusal = log?.refusal;
    if (refusal !== undefined) throw new CapabilityError('decision_log_unavailable', `grant refused: ${refusal}; grants are refused until it records again`);
  };
  /** One `grant` record per capability signed: its ids and scope, never the token. */
  const record = (token: string, how: 'grant' | 'delegation'): string => {
    if (log === undefined) return token;
    const c = decodeJwt(token) as Partial<CapabilityClaims> & { act?: unknown };
    log.append('grant', {
      how,
      agent: c.sub,
      intent: c.intent?.id,
      audience: c.aud,
      tools: c.tools === undefined ? undefined : Object.keys(c.tools),
      tokenId: c.jti,
      expiresAt: c.exp,
      bound: c.cnf !== undefined,
    });
    return token;
  };

  return {
    issuer: options.issuer,
    maxTtlSec: maxTtl,
    get kid() {
      return current.kid;
    },

    async grant(request: GrantRequest): Promise<string> {
      const r = grantSchema.safeParse(request);
      if (!r.success) throw new CapabilityError('grant_invalid', `grant refused: ${describeIssues(r.error, 'grant')}`);
      const ttl = durationSeconds((request.ttl ?? defaultTtl) as Duration, 'grant.ttl');
      if (ttl > maxTtl) {
        throw new CapabilityError('grant_invalid', `grant refused: ttl ${ttl}s exceeds the authority's maxTtl of ${maxTtl}s`);
      }
      unrecorded();
      await checkAgentToken(r.data.agent, r.data.agentToken);
      let cnf: { jkt: string } | undefined;
      if (request.confirmation) {
        cnf =
          'jkt' in request.confirmation
            ? { jkt: request.confirmation.jkt }
            : { jkt: await calculateJwkThumbprint(request.confirmation.jwk, 'sha256') };
      }
      const nowMs = Math.floor(clock());
      const now = Math.floor(nowMs / 1000);
      // Stamped after any revocation of this agent or intent the shared store already holds:
      // a guard's stop reaches past its clock into the skew window, and a grant made after it
      // must still work at once.
      const issuedAtMs =
        options.store === undefined
          ? nowMs
          : await issueTimeAfterRevocations(options.store, [revocationKey.agent(r.data.agent), revocationKey.intent(r.data.intent.id)], nowMs);
      const claims: Omit<CapabilityClaims, 'iss' | 'sub' | 'aud' | 'iat' | 'nbf' | 'exp' | 'jti'> = {
        iat_ms: issuedAtMs,
        intent: r.data.intent,
        tools: r.data.tools,
        ...(cnf ? { cnf } : {}),
      };
      const key = current;
      const token = await key.signJwt(
        { alg: key.alg, typ: CAPABILITY_TYP, kid: key.kid },
        { ...claims, iss: options.issuer, sub: request.agent, aud: request.audience, iat: now, nbf: now, exp: now + ttl, jti: nanoid() },
      );
      unrecorded();
      return record(token, 'grant');
    },

    async delegate(parent, request) {
      unrecorded();
      const token = await exchange(parent, request);
      unrecorded();
      return record(token, 'delegation');
    },
    revokeCapability: (id) => revocation.revokeCapability(id),
    revokeAgent: (agentId) => revocation.revokeAgent(agentId),
    revokeIntent: (intentId) => revocation.revokeIntent(intentId),

    jwks(): JWKS {
      const now = clock();
      for (let i = retired.length - 1; i >= 0; i--) if (retired[i]!.until <= now) retired.splice(i, 1);
      return { keys: [current.publicJwk, ...retired.map((r) => r.key.publicJwk)].map((k) => ({ ...k })) };
    },

    async rotate(signingKey) {
      const next = await load(signingKey, 'rotate(signingKey)');
      retired.push({ key: current, until: clock() + maxTtl * 1000 });
      current = next;
      return { kid: next.kid };
    },
  };
}

/**
 * Revocations are kept for the longest lifetime a token of this authority can have, plus the
 * largest clock skew a guard accepts and a minute, so none expires while its token could verify.
 */
function authorityRevoker(store: TesseraStore | undefined, clock: Clock, maxTtlSec: number): Revoker {
  if (store === undefined) {
    const missing = (method: string) => (): Promise<void> =>
      Promise.reject(new TypeError(`authority.${method}() needs the store the guards share: createAuthority({ store })`));
    return { revokeCapability: missing('revokeCapability'), revokeAgent: missing('revokeAgent'), revokeIntent: missing('revokeIntent') };
  }
  if (typeof store !== 'object' || store === null || typeof store.revoke !== 'function') {
    throw new TypeError('store must be a TesseraStore (createMemoryStore or createRedisStore)');
  }
  // Its own grants carry its own clock's issue times: "until now" needs no allowance for skew.
  return createRevoker(store, clock, { keepMs: (maxTtlSec + 300 + 60) * 1000 });
}
