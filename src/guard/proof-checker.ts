/**
 * Proof of possession for capabilities bound to the agent's key (`cnf.jkt`), adapted from
 * RFC 9449 (DPoP): each call carries a `tessera-pop+jwt` proof signed by the agent's key, bound
 * to the tool, the call id, the arguments' hash, the capability's hash and this guard, fresh
 * within a short window and accepted once (the pipeline marks its `jti` in the store).
 *
 * The proof's header carries the public key; it is trusted only because its RFC 7638 thumbprint
 * equals the `cnf.jkt` the authority signed. Verification is one synchronous node:crypto
 * signature check: the imported key is cached per header, and parsing is strict and small.
 */
import { createHash, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { importPublicJwk, KEY_TYPE_OF, readEmbeddedKey } from '../jose/jwk.js';
import { PROOF_TYP } from '../jose/typ.js';
import type { VerifiedCapability } from '../capability/verify.js';
import type { CapabilityContext } from '../identity/types.js';
import { hashArguments } from '../util/canonical.js';
import { DeadlineError, LazySignal, withDeadline } from '../util/deadline.js';
import type { Clock } from '../util/time.js';
import { describeIssues } from '../util/zod-issues.js';
import { IdentityError } from '../identity/errors.js';
import { COMPACT_JWS } from '../jose/compact-jws.js';

export type ProofChecker = (
  cap: VerifiedCapability,
  binding: CapabilityContext,
  call: { tool: string; callId: string; rawArgs: unknown; proof: string | undefined },
) => undefined | { jti: string; ttlMs: number } | Promise<undefined | { jti: string; ttlMs: number }>;

export type ProofAlgorithm = 'EdDSA' | 'ES256';

export interface ProofOptions {
  /** How old a proof may be (by its `iat`), seconds; default 60, at most 300. */
  maxAgeSec?: number;
  /** Algorithms accepted for proofs; default `['EdDSA', 'ES256']`. */
  algorithms?: ProofAlgorithm[];
}

export const proofOptionsSchema = z.strictObject({
  maxAgeSec: z.number().int().positive().max(300).optional(),
  algorithms: z.array(z.enum(['EdDSA', 'ES256'])).min(1).optional(),
});

export interface ProofCheckerOptions extends ProofOptions {
  audience: string;
  clock: Clock;
  clockSkewSec: number;
  /** How long a prover may take to sign, ms; past it the call is `proof_invalid`. Default 2000. */
  timeoutMs?: number;
}

const MAX_PROOF_BYTES = 4096;
const HEADER_MEMBERS = new Set(['alg', 'typ', 'jwk']);

interface ProofKey {
  readonly jkt: string;
  readonly alg: ProofAlgorithm;
  readonly key: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' };
  readonly digest: 'sha256' | null;
}

const invalid = (reason: string): never => {
  throw new IdentityError('proof_invalid', reason);
};

function parseJson(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Reads the proof's header into a key, or says why it cannot be one. */
function importHeader(segment: string, algorithms: ReadonlySet<string>): ProofKey {
  const header = parseJson(segment) as Record<string, unknown> | undefined;
  if (header === undefined || typeof header !== 'object' || header === null || Array.isArray(header)) {
    return invalid('the proof of possession is not a well-formed JWS');
  }
  if (header.typ !== PROOF_TYP) return invalid(`the proof's typ must be "${PROOF_TYP}"`);
  for (const k of Object.keys(header)) {
    if (!HEADER_MEMBERS.has(k)) return invalid(`the proof's header may hold only alg, typ and jwk; it carries "${k}"`);
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || !algorithms.has(alg)) return invalid('the proof is signed with an algorithm this guard does not accept');
  const keyType = KEY_TYPE_OF.get(alg);
  if (keyType === undefined) return invalid('the proof is signed with an algorithm this guard does not accept');
  const read = readEmbeddedKey(header.jwk, keyType);
  if ('kind' in read) {
    switch (read.kind) {
      case 'not_an_object':
        return invalid("the proof's header must carry the agent's public key (jwk)");
      case 'private':
        return invalid("the proof's header jwk must be a public key");
      case 'wrong_type':
        return invalid(`the proof's key does not match its algorithm ${alg}`);
      case 'missing_member':
        return invalid(`the proof's jwk lacks "${read.member}"`);
    }
  }
  let key: KeyObject;
  try {
    key = importPublicJwk(read.jwk);
  } catch {
    return invalid("the proof's jwk is not a valid public key");
  }
  return Object.freeze({
    jkt: read.thumbprint,
    alg: alg as ProofAlgorithm,
    key: alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key,
    digest: alg === 'ES256' ? ('sha256' as const) : null,
  });
}

/**
 * Builds the guard's proof checker. Capabilities without `cnf` pass untouched; bound ones need a
 * valid proof, given with the call or signed by the binding's prover.
 */
export function createProofChecker(options: ProofCheckerOptions, cacheSize = 10_000): ProofChecker {
  const maxAgeSec = options.maxAgeSec ?? 60;
  const algorithms = new Set<string>(options.algorithms ?? ['EdDSA', 'ES256']);
  const { audience, clock, clockSkewSec } = options;
  const timeoutMs = options.timeoutMs ?? 2000;
  // A proof is accepted from iat - skew to iat + maxAge + skew: remember its jti that long.
  const ttlMs = (maxAgeSec + 2 * clockSkewSec + 1) * 1000;
  const keys = new Map<string, ProofKey>();
  const capHashes = new WeakMap<VerifiedCapability, { token: string; hash: string }>();

  const capabilityHash = (cap: VerifiedCapability, token: string): string => {
    const hit = capHashes.get(cap);
    if (hit !== undefined && hit.token === token) return hit.hash;
    const hash = createHash('sha256').update(token).digest('base64url');
    capHashes.set(cap, { token, hash });
    return hash;
  };

  const keyFor = (segment: string): ProofKey => {
    let k = keys.get(segment);
    if (k === undefined) {
      k = importHeader(segment, algorithms);
      if (keys.size >= cacheSize) {
        const oldest = keys.keys().next();
        if (!oldest.done) keys.delete(oldest.value);
      }
      keys.set(segment, k);
    }
    return k;
  };

  const check = (
    jkt: string,
    capHash: string,
    argsHash: string,
    call: { tool: string; callId: string },
    proof: unknown,
  ): { jti: string; ttlMs: number } => {
    if (typeof proof !== 'string' || proof.length === 0) {
      return invalid('the capability is bound to a key (cnf) and no proof of possession was presented; sign one per call with the agent key');
    }
    if (proof.length > MAX_PROOF_BYTES) return invalid(`the proof of possession is larger than ${MAX_PROOF_BYTES} bytes`);
    const m = COMPACT_JWS.exec(proof);
    if (m === null) return invalid('the proof of possession is not a compact JWS');
    const key = keyFor(m[1]!);
    if (key.jkt !== jkt) return invalid("the proof is signed by another key than the one the capability is bound to (cnf.jkt)");
    const signature = Buffer.from(m[3]!, 'base64url');
    let ok = false;
    try {
      ok = verify(key.digest, Buffer.from(`${m[1]}.${m[2]}`), key.key, signature);
    } catch {
      ok = false;
    }
    if (!ok) return invalid("the proof's signature does not verify");
    const claims = parseJson(m[2]!) as Record<string, unknown> | undefined;
    if (claims === undefined || typeof claims !== 'object' || claims === null) return invalid("the proof's claims are not a JSON object");
    if (claims.aud !== audience) return invalid(`the proof was made for another guard than "${audience}"`);
    if (claims.cap_sha256 !== capHash) return invalid('the proof was made for another capability');
    if (claims.tool !== call.tool) return invalid(`the proof was made for another tool than "${call.tool}"`);
    if (claims.call_id !== call.callId) return invalid('the proof was made for another call id');
    if (claims.args_sha256 !== argsHash) return invalid('the proof was made for other arguments than this call');
    const iat = claims.iat;
    if (typeof iat !== 'number' || !Number.isInteger(iat)) return invalid('the proof has no iat');
    const now = clock() / 1000;
    if (iat > now + clockSkewSec) return invalid('the proof was issued in the future (iat)');
    if (iat < now - maxAgeSec - clockSkewSec) return invalid(`the proof is older than ${maxAgeSec}s; sign a fresh one for each call`);
    const jti = claims.jti;
    if (typeof jti !== 'string' || jti.length < 16 || jti.length > 128) {
      return invalid('the proof needs a jti of at least 96 random bits');
    }
    return { jti, ttlMs };
  };

  return (cap, binding, call) => {
    const jkt = cap.confirmationJkt;
    if (jkt === undefined) return undefined;
    const capHash = capabilityHash(cap, binding.capability);
    let argsHash: string;
    try {
      argsHash = hashArguments(call.rawArgs);
    } catch {
      return invalid('the arguments are not JSON data, so no proof can be bound to them');
    }
    if (call.proof !== undefined || binding.prover === undefined) return check(jkt, capHash, argsHash, call, call.proof);
    // The signal exists only if the prover reads it: a synchronous prover costs no controller.
    const lazy = new LazySignal();
    let signed: string | Promise<string>;
    try {
      signed = withDeadline(
        binding.prover.prove(
          { tool: call.tool, callId: call.callId, argsHash, capabilityHash: capHash, audience },
          {
            get signal() {
              return lazy.signal;
            },
          },
        ),
        timeoutMs,
        "the agent runtime's prover",
        (err) => lazy.abort(err),
      );
    } catch (err) {
      throw new IdentityError('proof_invalid', "the agent runtime's prover could not sign a proof for this call", { cause: err });
    }
    if (!(signed instanceof Promise)) return check(jkt, capHash, argsHash, call, signed);
    return signed.then(
      (p) => check(jkt, capHash, argsHash, call, p),
      (err: unknown) => {
        const why = err instanceof DeadlineError ? `${err.message}; no proof of possession, no call` : "the agent runtime's prover could not sign a proof for this call";
        throw new IdentityError('proof_invalid', why, { cause: err });
      },
    );
  };
}

/** Validates `GuardOptions.proof` once; a bad option throws naming it. */
export function parseProofOptions(value: unknown): ProofOptions {
  if (value === undefined) return {};
  const r = proofOptionsSchema.safeParse(value);
  if (!r.success) throw new TypeError(describeIssues(r.error, 'proof'));
  const out: ProofOptions = {};
  if (r.data.maxAgeSec !== undefined) out.maxAgeSec = r.data.maxAgeSec;
  if (r.data.algorithms !== undefined) out.algorithms = r.data.algorithms;
  return out;
}
