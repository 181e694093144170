/**
 * DPoP proofs (RFC 9449) at the authority's endpoints: `typ: dpop+jwt`, an allowlisted asymmetric
 * algorithm matching the key, a public `jwk` in the header and nothing private, `htm` and `htu`
 * naming exactly this request, `iat` within the window, and each `jti` accepted once through the
 * store the guards share, so a captured proof is refused by every authority replica.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors as joseErrors, jwtVerify, type JWK } from 'jose';
import type { TesseraStore } from '../../store/types.js';
import type { Clock } from '../../util/time.js';
import { COMPACT_JWS } from '../../jose/compact-jws.js';
import { withDeadline } from './deadline.js';
import { OAuthError, badRequest, unavailable } from './oauth-error.js';

export const DPOP_ALGORITHMS = ['EdDSA', 'ES256'] as const;
const KEY_OF: Readonly<Record<string, { kty: string; crv: string }>> = Object.freeze({
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  ES256: { kty: 'EC', crv: 'P-256' },
});
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];
const MAX_PROOF_BYTES = 8 * 1024;

export interface DpopCheck {
  htm: string;
  /** The endpoint's URL exactly as the metadata publishes it. */
  htu: string;
  clock: Clock;
  /** How far `iat` may lie from the authority's clock, either way, seconds. */
  windowSec: number;
  store: TesseraStore;
  storeTimeoutMs: number;
}

const invalid = (why: string): OAuthError => badRequest('invalid_dpop_proof', why);

/** Verifies one DPoP proof and consumes its `jti`; returns the RFC 7638 thumbprint of its key. */
export async function verifyDpopProof(proof: string, check: DpopCheck): Promise<string> {
  if (proof.length > MAX_PROOF_BYTES || !COMPACT_JWS.test(proof)) throw invalid('the DPoP header is not one compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw invalid("the DPoP proof's header cannot be read");
  }
  if (header.typ !== 'dpop+jwt') throw invalid('the DPoP proof must have typ "dpop+jwt"');
  const alg = header.alg;
  if (typeof alg !== 'string' || !Object.hasOwn(KEY_OF, alg)) throw invalid(`the DPoP proof must be signed with ${DPOP_ALGORITHMS.join(' or ')}`);
  const jwk = header.jwk as JWK | undefined;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw invalid('the DPoP proof must carry its public key as "jwk" in the header');
  if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwk, m))) throw invalid("the DPoP proof's jwk holds a private key member");
  const want = KEY_OF[alg]!;
  if (jwk.kty !== want.kty || jwk.crv !== want.crv) throw invalid(`the DPoP proof's jwk is not a ${want.crv} key as ${alg} requires`);

  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...DPOP_ALGORITHMS],
      currentDate: new Date(check.clock()),
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw invalid("the DPoP proof's signature does not verify with its jwk");
    throw invalid('the DPoP proof could not be verified');
  }
  if (payload.htm !== check.htm) throw invalid(`the DPoP proof's htm must be "${check.htm}"`);
  if (payload.htu !== check.htu) throw invalid(`the DPoP proof's htu must be exactly "${check.htu}"`);
  const iat = payload.iat;
  if (typeof iat !== 'number' || !Number.isInteger(iat)) throw invalid('the DPoP proof needs an integer iat');
  const now = Math.floor(check.clock() / 1000);
  if (Math.abs(now - iat) > check.windowSec) throw invalid(`the DPoP proof's iat is more than ${check.windowSec}s from the authority's clock; make a fresh proof`);
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) throw invalid('the DPoP proof needs a jti of 8 to 256 characters');

  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  // Hashed: the jti is the client's choice and must never shape a store key.
  const key = `dpop:${createHash('sha256').update(`${jkt}\n${jti}`).digest('base64url')}`;
  let fresh: boolean;
  try {
    fresh = await withDeadline('the store', check.storeTimeoutMs, () => check.store.consumeOnce(key, (2 * check.windowSec + 1) * 1000));
  } catch (err) {
    throw unavailable('the store that records DPoP proofs could not be reached; try again', err);
  }
  if (!fresh) throw invalid('this DPoP proof was already used (jti replay); make a fresh proof for every request');
  return jkt;
}
