/**
 * A signer that keeps the private key elsewhere (a KMS, a Vault transit key, an HSM): the
 * authority hands it the JWS signing input and gets the signature back, so the key never enters
 * the authority's process. Every signature is checked against the signer's public key before a
 * token leaves the authority: a signer answering with another key's signature (a misconfigured
 * key version) fails at the authority, not at every guard.
 */
import { createPublicKey, sign as signBytes, verify, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { SignerError } from '../errors.js';
import type { SigningAlgorithm, SigningKey } from '../jose/keys.js';

/** Signs capability tokens with a key held outside this process. */
export interface CapabilitySigner {
  /** The public half: an Ed25519 (`OKP`) or P-256 (`EC`) JWK; any private member is refused. */
  readonly publicJwk: JWK;
  /** Key id published in the JWKS; default the RFC 7638 thumbprint of `publicJwk`. */
  readonly kid?: string;
  /**
   * Signs the JWS signing input (`base64url(header).base64url(payload)` as bytes) and returns
   * the JWS signature: 64 bytes Ed25519, or for ES256 the 64-byte `r || s` (not DER).
   */
  sign(signingInput: Uint8Array): Promise<Uint8Array>;
}

export { SignerError };

/** A `CapabilitySigner` checked once and ready to sign compact JWS. */
export interface PreparedSigner {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** The public JWK with `kid`, `alg` and `use: "sig"`. */
  readonly publicJwk: JWK;
  /** Signs a JWT with exactly this protected header and payload. */
  signJwt(header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string>;
}

/** `base64url(header).base64url(payload)`: the bytes a JWS signature covers (RFC 7515 §5.1). */
function signingInput(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
}

/**
 * A key this process holds, signing with node:crypto's synchronous `sign`: jose signs through
 * WebCrypto, which runs on the thread pool and costs a hop per token on the authority's hot path
 * for a signature that takes tens of microseconds. Same compact JWS, same header and claims.
 */
export function localSigner(key: SigningKey): PreparedSigner {
  const { kid, alg, publicJwk, privateKey } = key;
  const signKey = alg === 'EdDSA' ? privateKey : { key: privateKey, dsaEncoding: 'ieee-p1363' as const };
  const digest = alg === 'EdDSA' ? null : 'sha256';
  const signJwt = (header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> => {
    try {
      const input = signingInput(header, payload);
      return Promise.resolve(`${input}.${signBytes(digest, Buffer.from(input), signKey).toString('base64url')}`);
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return Object.freeze({ kid, alg, publicJwk, signJwt });
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

export function isCapabilitySigner(value: unknown): value is CapabilitySigner {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { sign?: unknown }).sign === 'function' &&
    typeof (value as { publicJwk?: unknown }).publicJwk === 'object' &&
    !('privateKey' in value)
  );
}

function algorithmOf(jwk: JWK, option: string): SigningAlgorithm {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  throw new TypeError(`${option}.publicJwk must be an Ed25519 (OKP) or P-256 (EC) public key`);
}

/** Validates a signer at construction; a bad one throws a TypeError naming `option`. */
export async function prepareSigner(signer: CapabilitySigner, option: string, timeoutMs: number): Promise<PreparedSigner> {
  if (!isCapabilitySigner(signer)) throw new TypeError(`${option} must be { publicJwk, sign(bytes) }`);
  const jwk = signer.publicJwk;
  for (const m of PRIVATE_MEMBERS) {
    if (m in jwk) throw new TypeError(`${option}.publicJwk holds a private member ("${m}"); give the public key only`);
  }
  const alg = algorithmOf(jwk, option);
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new TypeError(`${option}.publicJwk.alg is "${jwk.alg}" but the key is an ${alg} key`);
  const members: JWK = alg === 'EdDSA' ? { kty: 'OKP', crv: 'Ed25519', x: jwk.x! } : { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
  let key: KeyObject;
  try {
    key = createPublicKey({ key: members as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch {
    throw new TypeError(`${option}.publicJwk is not a valid ${alg} public key`);
  }
  if (signer.kid !== undefined && (typeof signer.kid !== 'string' || signer.kid.length === 0 || signer.kid.length > 256)) {
    throw new TypeError(`${option}.kid must be a non-empty string of at most 256 characters`);
  }
  const kid = signer.kid ?? (await calculateJwkThumbprint(members, 'sha256'));
  const publicJwk: JWK = Object.freeze({ ...members, kid, alg, use: 'sig' });
  const verifyOptions = alg === 'EdDSA' ? key : { key, dsaEncoding: 'ieee-p1363' as const };
  const digest = alg === 'EdDSA' ? null : 'sha256';

  const signJwt = async (header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> => {
    const input = signingInput(header, payload);
    const bytes = Buffer.from(input);
    let timer: NodeJS.Timeout | undefined;
    let signature: Uint8Array;
    try {
      signature = await Promise.race([
        Promise.resolve().then(() => signer.sign(new Uint8Array(bytes))),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new SignerError(`the signer did not answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      if (err instanceof SignerError) throw err;
      // The signer's own error may describe its endpoint or credentials: keep it as the cause only.
      throw new SignerError('the signer failed to sign', { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (!(signature instanceof Uint8Array) || signature.length !== 64 || !verify(digest, bytes, verifyOptions, signature)) {
      throw new SignerError(`the signer's answer is not a valid ${alg} signature by the key ${kid}`);
    }
    return `${input}.${Buffer.from(signature).toString('base64url')}`;
  };
  return Object.freeze({ kid, alg, publicJwk, signJwt });
}
