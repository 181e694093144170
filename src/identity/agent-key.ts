/**
 * An agent's own key pair, for proof of possession (RFC 7800 `cnf`, adapted from RFC 9449 DPoP).
 *
 * A capability granted for this key carries `cnf.jkt`; every call then needs a fresh
 * `tessera-pop+jwt` proof signed by the private half, so a stolen capability alone is worthless.
 * Proofs are signed synchronously with node:crypto: one signature per call is on the hot path.
 */
import type { JWK } from 'jose';
import { createEmbeddedKeySigner } from '../jose/compact-sign.js';
import { jwkThumbprint, minimalJwk } from '../jose/jwk.js';
import { PROOF_TYP } from '../jose/typ.js';
import { generateSigningKey, importSigningKey, type PrivateKeyInput, type SigningAlgorithm, type SigningKey } from '../jose/keys.js';
import type { ProofBinding, ProofSigner } from './types.js';
import { randomId } from '../util/canonical.js';
import { systemClock, type Clock } from '../util/time.js';

/** The claims of a proof of possession. */
export interface ProofClaims {
  tool: string;
  call_id: string;
  /** base64url SHA-256 of the canonical JSON of the call's arguments. */
  args_sha256: string;
  /** base64url SHA-256 of the capability token the proof accompanies. */
  cap_sha256: string;
  /** The guard deployment (its audience). */
  aud: string;
  iat: number;
  /** 128 random bits; the guard accepts each one once. */
  jti: string;
}

export interface AgentKey extends ProofSigner {
  /** RFC 7638 SHA-256 thumbprint of the public key: what a capability's `cnf.jkt` holds. */
  readonly jkt: string;
  /** The public key (no private part), e.g. for `grant({ confirmation: { jwk } })`. */
  readonly publicJwk: JWK;
  readonly signingKey: SigningKey;
  /** Signs a `tessera-pop+jwt` proof for one call. */
  prove(binding: ProofBinding): string;
}

export interface AgentKeyOptions {
  /** Source of `iat`; inject one to control time in tests. */
  clock?: Clock;
}

async function fromSigningKey(key: SigningKey, options: AgentKeyOptions): Promise<AgentKey> {
  const clock = options.clock ?? systemClock;
  // The header carries only the members RFC 7638 hashes: nothing else about the key.
  const publicJwk = Object.freeze(minimalJwk(key.publicJwk));
  const jkt = jwkThumbprint(publicJwk);
  const signProof = createEmbeddedKeySigner(key, PROOF_TYP, publicJwk);
  const prove = (binding: ProofBinding): string => {
    const claims: ProofClaims = {
      tool: binding.tool,
      call_id: binding.callId,
      args_sha256: binding.argsHash,
      cap_sha256: binding.capabilityHash,
      aud: binding.audience,
      iat: Math.floor(clock() / 1000),
      jti: randomId(),
    };
    return signProof(claims);
  };
  return Object.freeze({ jkt, publicJwk, signingKey: key, prove });
}

/** Generates a fresh key pair for one agent (Ed25519 by default). The private key never leaves it. */
export async function createAgentKey(alg: SigningAlgorithm = 'EdDSA', options: AgentKeyOptions = {}): Promise<AgentKey> {
  if (alg !== 'EdDSA' && alg !== 'ES256') throw new TypeError('createAgentKey: alg must be "EdDSA" or "ES256"');
  return fromSigningKey(await generateSigningKey(alg), options);
}

/** Wraps an existing private key (Ed25519 or P-256), e.g. one held by the agent's platform. */
export async function importAgentKey(key: PrivateKeyInput, options: AgentKeyOptions = {}): Promise<AgentKey> {
  return fromSigningKey(await importSigningKey(key), options);
}
