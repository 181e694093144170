/**
 * RFC 7638 thumbprints, minimal public JWKs and keys carried in a token's header: the one
 * implementation the agent key, proof checking and delegation chains all use.
 */
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { describe, expect, test } from 'vitest';
import { importPublicJwk, jwkThumbprint, KEY_TYPE_OF, minimalJwk, readEmbeddedKey } from '../../src/jose/jwk.js';
import { generateSigningKey } from '../../src/jose/keys.js';

const ED = KEY_TYPE_OF.get('EdDSA')!;
const P256 = KEY_TYPE_OF.get('ES256')!;

describe('jwkThumbprint', () => {
  test.each(['EdDSA', 'ES256'] as const)('%s: equals jose\'s RFC 7638 SHA-256 thumbprint, whatever else the JWK carries', async (alg) => {
    const key = await generateSigningKey(alg);
    expect(key.publicJwk.kid).toBeDefined();
    expect(jwkThumbprint(key.publicJwk)).toBe(await calculateJwkThumbprint(key.publicJwk, 'sha256'));
    expect(jwkThumbprint(minimalJwk(key.publicJwk))).toBe(jwkThumbprint(key.publicJwk));
  });

  test('an imported key\'s default kid is its thumbprint', async () => {
    const key = await generateSigningKey('ES256');
    expect(key.kid).toBe(jwkThumbprint(key.publicJwk));
  });
});

describe('minimalJwk', () => {
  test('keeps only kty, crv, x (and y for P-256): no kid, alg or use', async () => {
    const ed = await generateSigningKey('EdDSA');
    expect(Object.keys(minimalJwk(ed.publicJwk))).toEqual(['kty', 'crv', 'x']);
    const ec = await generateSigningKey('ES256');
    expect(Object.keys(minimalJwk(ec.publicJwk))).toEqual(['kty', 'crv', 'x', 'y']);
  });
});

describe('KEY_TYPE_OF', () => {
  test('knows EdDSA and ES256 only', () => {
    expect([...KEY_TYPE_OF.keys()]).toEqual(['EdDSA', 'ES256']);
    expect(KEY_TYPE_OF.get('RS256')).toBeUndefined();
    expect(KEY_TYPE_OF.get('__proto__')).toBeUndefined();
  });
});

describe('readEmbeddedKey', () => {
  const edJwk = async (): Promise<JWK> => exportJWK(generateKeyPairSync('ed25519').publicKey);

  test('a public key of the expected type: its RFC 7638 members, thumbprint, and a usable key', async () => {
    const jwk = { ...(await edJwk()), kid: 'ignored', use: 'sig' };
    const read = readEmbeddedKey(jwk, ED);
    if ('kind' in read) throw new Error(`expected a key, got ${read.kind}`);
    expect(Object.keys(read.jwk)).toEqual(['crv', 'kty', 'x']);
    expect(read.thumbprint).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    expect(importPublicJwk(read.jwk).asymmetricKeyType).toBe('ed25519');
  });

  test.each([
    ['no object', 'a string'],
    ['null', null],
    ['an array', []],
  ])('%s is not_an_object', (_name, value) => {
    expect(readEmbeddedKey(value, ED)).toEqual({ kind: 'not_an_object' });
  });

  test('a key with a private member is private', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    expect(readEmbeddedKey(await exportJWK(privateKey), ED)).toEqual({ kind: 'private' });
    expect(readEmbeddedKey({ ...(await edJwk()), k: 'AAAA' }, ED)).toEqual({ kind: 'private' });
  });

  test('an Ed25519 key where P-256 is expected is wrong_type', async () => {
    expect(readEmbeddedKey(await edJwk(), P256)).toEqual({ kind: 'wrong_type' });
  });

  test('a P-256 key without y is missing_member y', async () => {
    const { y: _y, ...noY } = await exportJWK(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    expect(readEmbeddedKey(noY, P256)).toEqual({ kind: 'missing_member', member: 'y' });
  });

  test('members that are not a point on the curve fail at import, not before', () => {
    const read = readEmbeddedKey({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }, P256);
    if ('kind' in read) throw new Error(`expected a key, got ${read.kind}`);
    expect(() => importPublicJwk(read.jwk)).toThrow();
  });
});
