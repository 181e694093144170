/**
 * Signing keys: generated, imported once, bound to exactly one algorithm (RFC 8725 §3.1).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, webcrypto } from 'node:crypto';
import type { JWK } from 'jose';
import { jwkThumbprint } from './jwk.js';

export type SigningAlgorithm = 'EdDSA' | 'ES256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256'];

/** A private key as given by the caller: a Node KeyObject, a WebCrypto CryptoKey or a private JWK. */
export type PrivateKeyInput = KeyObject | webcrypto.CryptoKey | JWK;

/** A key ready to sign: imported once, with its algorithm and `kid` fixed. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
  /** The public JWK with `kid`, `alg` and `use: "sig"`; never any private part. */
  readonly publicJwk: JWK;
}

/** CryptoKey is a global only on newer Node versions; test for it without assuming it. */
function isCryptoKey(k: unknown): boolean {
  const C = (globalThis as { CryptoKey?: abstract new () => unknown }).CryptoKey;
  return typeof C === 'function' && k instanceof C;
}

function toKeyObject(input: PrivateKeyInput, option: string): KeyObject {
  if (input instanceof KeyObject) return input;
  if (isCryptoKey(input)) return KeyObject.from(input as unknown as webcrypto.CryptoKey);
  const jwk = input as JWK;
  if (typeof jwk !== 'object' || jwk === null || typeof jwk.d !== 'string') {
    throw new TypeError(`${option} must be a private KeyObject, CryptoKey or a private JWK (with "d")`);
  }
  return createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
}

function algorithmOf(key: KeyObject, option: string): SigningAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new TypeError(
    `${option} must be an Ed25519 (EdDSA) or P-256 (ES256) private key, got ${key.asymmetricKeyType ?? 'a symmetric key'}`,
  );
}

interface PreparedKey {
  privateKey: KeyObject;
  alg: SigningAlgorithm;
  exported: JWK;
}

function prepare(input: PrivateKeyInput, option: string): PreparedKey {
  const privateKey = toKeyObject(input, option);
  if (privateKey.type !== 'private') throw new TypeError(`${option} must be a private key`);
  const alg = algorithmOf(privateKey, option);
  return { privateKey, alg, exported: createPublicKey(privateKey).export({ format: 'jwk' }) as JWK };
}

function assemble({ privateKey, alg, exported }: PreparedKey, kid: string): SigningKey {
  const publicJwk: JWK = { ...exported, kid, alg, use: 'sig' };
  return Object.freeze({ kid, alg, privateKey, publicJwk: Object.freeze(publicJwk) });
}

/** Imports a private key once; `kid` defaults to its RFC 7638 thumbprint. */
export async function importSigningKey(input: PrivateKeyInput, options: { kid?: string } = {}): Promise<SigningKey> {
  const prepared = prepare(input, 'signingKey');
  return assemble(prepared, options.kid ?? jwkThumbprint(prepared.exported));
}

/** Imports a private key synchronously under a given `kid`; `option` names it in errors. */
export function importSigningKeySync(input: PrivateKeyInput, kid: string, option: string): SigningKey {
  return assemble(prepare(input, option), kid);
}

/** Generates a fresh key pair (Ed25519 by default) and imports it. */
export async function generateSigningKey(alg: SigningAlgorithm = 'EdDSA'): Promise<SigningKey> {
  const { privateKey } =
    alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return importSigningKey(privateKey);
}

/** A JSON Web Key Set of public keys only. */
export interface JWKS {
  keys: JWK[];
}
