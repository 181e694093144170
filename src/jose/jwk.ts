/**
 * Public JWKs of the two key types we sign with, and their RFC 7638 thumbprints.
 *
 * Thumbprints are computed here with node:crypto, synchronously: jose's `calculateJwkThumbprint`
 * goes through an async digest, which costs a thread-pool hop on paths that run per call or per
 * delegation link, and gives the same value.
 */
import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';

export interface KeyType {
  readonly kty: 'OKP' | 'EC';
  readonly crv: 'Ed25519' | 'P-256';
  /** The members RFC 7638 hashes, in lexicographic order. */
  readonly members: readonly string[];
}

/** The key type each signing algorithm implies (RFC 8037 for EdDSA, RFC 7518 for ES256). */
export const KEY_TYPE_OF: ReadonlyMap<string, KeyType> = new Map<string, KeyType>([
  ['EdDSA', Object.freeze({ kty: 'OKP', crv: 'Ed25519', members: Object.freeze(['crv', 'kty', 'x']) })],
  ['ES256', Object.freeze({ kty: 'EC', crv: 'P-256', members: Object.freeze(['crv', 'kty', 'x', 'y']) })],
]);

/** Members that only a private (or symmetric) key has. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

/**
 * Only the members RFC 7638 hashes: a header or a grant carrying this says nothing else about
 * the key (no `kid`, `alg` or `use`).
 */
export function minimalJwk(jwk: JWK): JWK {
  return jwk.kty === 'OKP' ? { kty: 'OKP', crv: jwk.crv!, x: jwk.x! } : { kty: 'EC', crv: jwk.crv!, x: jwk.x!, y: jwk.y! };
}

/** RFC 7638: the required members, lexicographically ordered, no whitespace, SHA-256, base64url. */
function thumbprintOf(members: Readonly<Record<string, string>>): string {
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** RFC 7638 SHA-256 thumbprint of an OKP (Ed25519) or EC (P-256) public key. */
export function jwkThumbprint(jwk: JWK): string {
  return jwk.kty === 'OKP'
    ? thumbprintOf({ crv: jwk.crv!, kty: 'OKP', x: jwk.x! })
    : thumbprintOf({ crv: jwk.crv!, kty: 'EC', x: jwk.x!, y: jwk.y! });
}

/** Why a key embedded in a token's header cannot be used; the caller words it for its token. */
export type EmbeddedKeyProblem =
  | { readonly kind: 'not_an_object' }
  | { readonly kind: 'private' }
  | { readonly kind: 'wrong_type' }
  | { readonly kind: 'missing_member'; readonly member: string };

export interface EmbeddedKey {
  /** The RFC 7638 members only, in their order. */
  readonly jwk: JWK;
  readonly thumbprint: string;
}

/**
 * Reads a public key carried in a header (`jwk`) for `keyType`: only the RFC 7638 members are
 * kept, so nothing else the sender put there reaches node:crypto. The key is trustworthy only if
 * its thumbprint matches one pinned by someone already trusted; checking that is the caller's.
 */
export function readEmbeddedKey(value: unknown, keyType: KeyType): EmbeddedKey | EmbeddedKeyProblem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'not_an_object' };
  const jwk = value as Record<string, unknown>;
  if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) return { kind: 'private' };
  if (jwk.kty !== keyType.kty || jwk.crv !== keyType.crv) return { kind: 'wrong_type' };
  const canonical: Record<string, string> = {};
  for (const m of keyType.members) {
    const v = jwk[m];
    if (typeof v !== 'string') return { kind: 'missing_member', member: m };
    canonical[m] = v;
  }
  return { jwk: canonical as JWK, thumbprint: thumbprintOf(canonical) };
}

/** Imports a public JWK read by `readEmbeddedKey`; throws when it is not a valid key. */
export function importPublicJwk(jwk: JWK): KeyObject {
  return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
}
