/**
 * Delegation: an agent hands part of its authority to a sub-agent, and can only narrow it.
 *
 * `delegate()` runs where the delegating agent runs: it signs the child with the agent's own key
 * (the one its capability pins in `cnf.jkt`) and embeds the parent, so any guard verifies the
 * whole chain offline. `createTokenExchange()` is the authority's variant (RFC 8693 token
 * exchange) for an agent that holds no key: the authority verifies the parent chain and signs
 * the child itself. Both apply the same narrowing rules the guard applies again when verifying.
 */
import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose';
import { nanoid } from 'nanoid';
import { z } from 'zod';
import { CapabilityError } from '../errors.js';
import { durationSeconds, systemClock, type Clock, type Duration } from '../util/time.js';
import { clockOption, objectOption } from '../util/option-schemas.js';
import { parseOptions } from '../util/options.js';
import { describeIssues } from '../util/zod-issues.js';
import { jwkThumbprint, minimalJwk } from '../jose/jwk.js';
import { CAPABILITY_TYP } from '../jose/typ.js';
import { capabilityClaimsSchema, toolsSchema, type CapabilityClaims, type ToolGrant } from './claims.js';
import { createChainVerifier, decodeChain } from './delegation-chain.js';
import { actorFor, checkLink, type LinkSigner } from './delegation-rules.js';
import type { JWKS, SigningKey } from '../jose/keys.js';
import type { PreparedSigner } from './signer.js';
import { createCapabilityVerifier, type CapabilityVerifier } from './verify.js';

export interface DelegationRequest {
  /** The sub-agent's workload identity: the child's `sub`. */
  to: string;
  /** A subset of the parent's tools, each with constraints at least as strict and `maxCalls` no higher. */
  tools: Record<string, ToolGrant>;
  /** Lifetime; default: until the parent expires. A ttl that outlives the parent is refused. */
  ttl?: Duration;
  /** The sub-agent's share of the task, in words an approver reads. The intent id stays the parent's. */
  intent?: { id?: string; purpose: string };
  /** Binds the child to the sub-agent's key: it must then prove possession, and can delegate further. */
  confirmation?: { jkt: string } | { jwk: JWK };
}

/** The delegating agent's key: an `AgentKey` (see `createAgentKey`) or a bare `SigningKey`. */
export type DelegationKey = SigningKey | { readonly signingKey: SigningKey };

export interface DelegateOptions {
  /** The key whose RFC 7638 thumbprint the parent capability pins in `cnf.jkt`. */
  key: DelegationKey;
  clock?: Clock;
  /** Deepest chain this agent will create, in delegations below the root grant; default 3. */
  maxDepth?: number;
}

const requestSchema = z.strictObject({
  to: z.string().min(1).max(2048),
  tools: toolsSchema,
  ttl: z.union([z.number(), z.string()]).optional(),
  intent: z.strictObject({ id: z.string().min(1).max(200).optional(), purpose: z.string().min(1).max(1000) }).optional(),
  confirmation: z
    .union([z.strictObject({ jkt: z.string().length(43) }), z.strictObject({ jwk: z.record(z.string(), z.unknown()) })])
    .optional(),
});

const optionsSchema = z.strictObject({
  key: objectOption<DelegationKey>('an AgentKey or a SigningKey'),
  clock: clockOption.optional(),
  maxDepth: z.number().int().min(1).max(16).optional(),
});

const refuse = (reason: string, cause?: unknown): never => {
  throw new CapabilityError('delegation_invalid', `delegation refused: ${reason}`, cause === undefined ? undefined : { cause });
};

function signingKeyOf(key: DelegationKey): SigningKey {
  if (typeof key === 'object' && key !== null) {
    if ('privateKey' in key && 'publicJwk' in key) return key;
    if ('signingKey' in key && typeof key.signingKey === 'object' && key.signingKey !== null) return key.signingKey;
  }
  throw new TypeError('delegate: options.key must be an AgentKey or a SigningKey');
}

type ParsedRequest = z.infer<typeof requestSchema>;

function parseRequest(request: DelegationRequest): ParsedRequest {
  const r = requestSchema.safeParse(request);
  if (!r.success) return refuse(describeIssues(r.error, 'request'));
  return r.data;
}

interface ChildPlan {
  parentToken: string;
  parent: CapabilityClaims;
  /** Subjects and `jti`s of every link from the root to the parent. */
  agents: readonly string[];
  ids: readonly string[];
  request: ParsedRequest;
  iss: string;
  signer: LinkSigner;
  nowMs: number;
  maxTtlSec: number;
  maxDepth: number;
}

/** The child's claims, checked against the same rules a guard applies to the chain. */
async function planChild(p: ChildPlan): Promise<CapabilityClaims> {
  const link = p.ids.length;
  const nowSec = Math.floor(p.nowMs / 1000);
  if (link > p.maxDepth) refuse(`link ${link} would exceed the maximum delegation depth of ${p.maxDepth}`);
  if (p.parent.exp <= nowSec) refuse('the parent capability has expired');
  let exp = p.parent.exp;
  if (p.request.ttl !== undefined) {
    const ttl = durationSeconds(p.request.ttl as Duration, 'request.ttl');
    exp = nowSec + ttl;
    if (exp > p.parent.exp) refuse(`link ${link} extends expiry ${exp - p.parent.exp}s beyond its parent's; ask for a ttl of at most ${p.parent.exp - nowSec}s`);
  }
  if (exp - nowSec > p.maxTtlSec) refuse(`the child's lifetime exceeds the maximum of ${p.maxTtlSec}s`);
  let cnf: { jkt: string } | undefined;
  const confirmation = p.request.confirmation;
  if (confirmation !== undefined) {
    cnf = 'jkt' in confirmation ? { jkt: confirmation.jkt } : { jkt: await calculateJwkThumbprint(confirmation.jwk as JWK, 'sha256') };
  }
  const child: CapabilityClaims = {
    iss: p.iss,
    sub: p.request.to,
    aud: p.parent.aud,
    iat: nowSec,
    iat_ms: Math.floor(p.nowMs),
    nbf: nowSec,
    exp,
    jti: nanoid(),
    intent: { id: p.request.intent?.id ?? p.parent.intent.id, purpose: p.request.intent?.purpose ?? p.parent.intent.purpose },
    tools: p.request.tools,
    ...(cnf ? { cnf } : {}),
    act: actorFor(p.parent),
    prt: p.parentToken,
  };
  const why = checkLink(p.parent, child, { link, signer: p.signer, agents: p.agents, ids: p.ids });
  if (why !== undefined) refuse(why);
  return child;
}

function sign(claims: CapabilityClaims, key: SigningKey, header: { kid: string } | { jwk: JWK }): Promise<string> {
  const { iss, sub, aud, iat, nbf, exp, jti, ...rest } = claims;
  return new SignJWT(rest)
    .setProtectedHeader({ alg: key.alg, typ: CAPABILITY_TYP, ...header })
    .setIssuer(iss)
    .setSubject(sub)
    .setAudience(aud)
    .setIssuedAt(iat)
    .setNotBefore(nbf)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(key.privateKey);
}

/**
 * Signs a child capability for a sub-agent with the delegating agent's own key.
 *
 * The parent must pin this key (`cnf.jkt`). The parent's signature is not checked here (the
 * agent may not hold the authority's keys); every guard checks the whole chain. Refusals are
 * `CapabilityError` with code `delegation_invalid` and a reason naming the link and the rule.
 */
export async function delegate(parentCapability: string, request: DelegationRequest, options: DelegateOptions): Promise<string> {
  parseOptions(optionsSchema, options, 'delegate options');
  const key = signingKeyOf(options.key);
  const maxDepth = options.maxDepth ?? 3;
  const clock = options.clock ?? systemClock;
  const parsed = parseRequest(request);

  let chain: ReturnType<typeof decodeChain>;
  try {
    chain = decodeChain(parentCapability, maxDepth);
  } catch (err) {
    return refuse(`the parent capability cannot be read: ${err instanceof CapabilityError ? err.reason : 'malformed'}`, err);
  }
  const claims: CapabilityClaims[] = [];
  for (const link of chain) {
    const r = capabilityClaimsSchema.safeParse(link.payload);
    if (!r.success) return refuse(`the parent capability's claims are malformed: ${describeIssues(r.error, 'claims')}`);
    claims.push(r.data);
  }
  const parent = claims[claims.length - 1]!;
  // The header says nothing else about the key than the members RFC 7638 hashes.
  const publicJwk = minimalJwk(key.publicJwk);
  const jkt = jwkThumbprint(publicJwk);
  if (parent.cnf === undefined) {
    refuse('the parent capability binds no key (cnf), so its holder cannot sign a delegation; use the authority\'s token exchange (authority.delegate)');
  }
  if (parent.cnf!.jkt !== jkt) refuse("the signing key is not the one the parent capability binds (cnf.jkt)");

  const child = await planChild({
    parentToken: parentCapability,
    parent,
    agents: claims.map((c) => c.sub),
    ids: claims.map((c) => c.jti),
    request: parsed,
    iss: parent.sub,
    signer: 'agent',
    nowMs: clock(),
    maxTtlSec: Number.MAX_SAFE_INTEGER,
    maxDepth,
  });
  return sign(child, key, { jwk: publicJwk });
}

export interface TokenExchangeOptions {
  /** The authority's `iss`. */
  issuer: string;
  /** The authority's current signing key, or its signer holding the key elsewhere. */
  signingKey: () => SigningKey | PreparedSigner;
  /** The authority's public keys, current and retired, to verify parent chains with. */
  jwks: () => JWKS;
  clock: Clock;
  /** Longest child lifetime, seconds (the authority's maxTtl). */
  maxTtlSec: number;
  /** Deepest chain, in delegations below the root grant; default 3. */
  maxDepth?: number;
}

/**
 * The authority's side of delegation (RFC 8693 token exchange): verify the parent chain against
 * the authority's own keys, apply the narrowing rules, sign the child with the authority's key.
 * The caller is responsible for having authenticated the parent's holder.
 */
export function createTokenExchange(options: TokenExchangeOptions): (parentCapability: string, request: DelegationRequest) => Promise<string> {
  const maxDepth = options.maxDepth ?? 3;
  const verifyChain = createChainVerifier({ maxDepth });
  // One verifier per audience: the parent names the guard deployment it is for.
  const verifiers = new Map<string, CapabilityVerifier>();
  const verifierFor = (audience: string): CapabilityVerifier => {
    let v = verifiers.get(audience);
    if (v === undefined) {
      v = createCapabilityVerifier({
        audience,
        trust: [{ issuer: options.issuer, jwks: options.jwks }],
        clock: options.clock,
        clockSkewSec: 0,
        maxLifetimeSec: options.maxTtlSec,
        maxTokenBytes: 64 * 1024,
        verifyChain,
      }).verify;
      if (verifiers.size >= 100) verifiers.clear();
      verifiers.set(audience, v);
    }
    return v;
  };

  return async (parentCapability, request) => {
    const parsed = parseRequest(request);
    let audience: unknown;
    try {
      audience = decodeChain(parentCapability, maxDepth)[0]!.payload.aud;
    } catch (err) {
      return refuse(`the parent capability cannot be read: ${err instanceof CapabilityError ? err.reason : 'malformed'}`, err);
    }
    if (typeof audience !== 'string' && !(Array.isArray(audience) && typeof audience[0] === 'string')) {
      return refuse('the parent capability names no audience');
    }
    let parent;
    try {
      parent = await verifierFor(typeof audience === 'string' ? audience : (audience[0] as string))(parentCapability);
    } catch (err) {
      return refuse(`the parent capability does not verify: ${err instanceof CapabilityError ? err.reason : 'unknown error'}`, err);
    }
    const key = options.signingKey();
    const child = await planChild({
      parentToken: parentCapability,
      parent: parent.claims,
      agents: parent.chain.agents,
      // The cycle rule compares jtis, as the guard's chain verifier does; chain.ids are derived ids.
      ids: parent.chain.depth === 0 ? [parent.claims.jti] : decodeChain(parentCapability, maxDepth).map((l) => String(l.payload.jti)),
      request: parsed,
      iss: options.issuer,
      signer: 'authority',
      nowMs: options.clock(),
      maxTtlSec: options.maxTtlSec,
      maxDepth,
    });
    if ('signJwt' in key) {
      const { iss, sub, aud, iat, nbf, exp, jti, ...rest } = child;
      return key.signJwt({ alg: key.alg, typ: CAPABILITY_TYP, kid: key.kid }, { ...rest, iss, sub, aud, iat, nbf, exp, jti });
    }
    return sign(child, key, { kid: key.kid });
  };
}
