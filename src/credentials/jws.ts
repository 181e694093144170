/**
 * Synchronous compact JWS signing for tokens that are ours to make on the hot path.
 *
 * jose signs through WebCrypto, which Node runs on its thread pool; for a signature we make on
 * every call, node:crypto's synchronous sign is 2-3x cheaper. Everything untrusted is still
 * parsed and verified by jose.
 */
import { sign } from 'node:crypto';
import type { SigningKey } from '../capability/keys.js';

export type CompactSigner = (payload: object) => string;

/** Binds a key and a `typ` into a signer; the protected header is encoded once. */
export function createCompactSigner(key: SigningKey, typ: string): CompactSigner {
  const header = Buffer.from(JSON.stringify({ alg: key.alg, typ, kid: key.kid })).toString('base64url');
  const privateKey = key.privateKey;
  const sigOptions = key.alg === 'EdDSA' ? privateKey : { key: privateKey, dsaEncoding: 'ieee-p1363' as const };
  const digest = key.alg === 'EdDSA' ? null : 'sha256';
  return (payload) => {
    const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    // The signing input is base64url text, so latin1 encodes it byte for byte without a UTF-8 pass.
    return `${input}.${sign(digest, Buffer.from(input, 'latin1'), sigOptions).toString('base64url')}`;
  };
}
