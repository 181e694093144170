/**
 * Key import: one algorithm per key, public parts only in what is published, misuse named.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { generateSigningKey, importSigningKey, importSigningKeySync } from '../../src/jose/keys.js';

describe('importSigningKey', () => {
  test('an Ed25519 key is EdDSA, a P-256 key ES256; the public JWK has no private part', async () => {
    const ed = await importSigningKey(generateKeyPairSync('ed25519').privateKey);
    expect(ed.alg).toBe('EdDSA');
    const ec = await importSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { kid: 'k1' });
    expect(ec.alg).toBe('ES256');
    expect(ec.kid).toBe('k1');
    for (const k of [ed, ec]) {
      expect(k.publicJwk).not.toHaveProperty('d');
      expect(k.publicJwk).toMatchObject({ kid: k.kid, alg: k.alg, use: 'sig' });
    }
  });

  test('a P-384 key is refused with a TypeError naming the option', async () => {
    await expect(importSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey)).rejects.toThrow(
      new TypeError('signingKey must be an Ed25519 (EdDSA) or P-256 (ES256) private key, got ec'),
    );
  });

  test('a public key is refused, naming the option given', () => {
    expect(() => importSigningKeySync(generateKeyPairSync('ed25519').publicKey, 'k', 'credentials.signingKey')).toThrow(
      new TypeError('credentials.signingKey must be a private key'),
    );
  });

  test('a JWK without d is refused', async () => {
    const key = await generateSigningKey();
    await expect(importSigningKey(key.publicJwk)).rejects.toThrow(/signingKey must be a private KeyObject, CryptoKey or a private JWK/);
  });
});
