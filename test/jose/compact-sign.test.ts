/**
 * Our hand-written compact JWS signing: what it makes is an ordinary JWS that jose verifies.
 */
import { compactVerify, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { describe, expect, test } from 'vitest';
import { createCompactSigner, createEmbeddedKeySigner, createThreadpoolSigner } from '../../src/jose/compact-sign.js';
import { minimalJwk } from '../../src/jose/jwk.js';
import { generateSigningKey } from '../../src/jose/keys.js';

const NOW = Math.floor(Date.UTC(2026, 10, 28, 12) / 1000);
const CLAIMS = { iss: 'urn:test', sub: 'agent', aud: 'svc', iat: NOW, exp: NOW + 30, jti: 'j'.repeat(22) };

describe.each(['EdDSA', 'ES256'] as const)('%s', (alg) => {
  test('createCompactSigner: header {alg, typ, kid}, verified by jose with the public key', async () => {
    const key = await generateSigningKey(alg);
    const token = createCompactSigner(key, 'test+jwt')(CLAIMS);
    expect(decodeProtectedHeader(token)).toEqual({ alg, typ: 'test+jwt', kid: key.kid });
    const { payload } = await jwtVerify(token, await importJWK(key.publicJwk, alg), {
      algorithms: [alg],
      typ: 'test+jwt',
      currentDate: new Date(NOW * 1000),
    });
    expect(payload).toEqual(CLAIMS);
  });

  test('createEmbeddedKeySigner: header {alg, typ, jwk}, verified with the key it carries', async () => {
    const key = await generateSigningKey(alg);
    const jwk = minimalJwk(key.publicJwk);
    const token = createEmbeddedKeySigner(key, 'test-pop+jwt', jwk)({ n: 1 });
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg, typ: 'test-pop+jwt', jwk });
    const { payload } = await compactVerify(token, await importJWK(header.jwk!, alg), { algorithms: [alg] });
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({ n: 1 });
  });

  test('createThreadpoolSigner: the same header and a signature jose accepts', async () => {
    const key = await generateSigningKey(alg);
    const token = await createThreadpoolSigner(key, 'test+jwt', 5000)(CLAIMS);
    expect(decodeProtectedHeader(token)).toEqual({ alg, typ: 'test+jwt', kid: key.kid });
    await expect(
      jwtVerify(token, await importJWK(key.publicJwk, alg), { algorithms: [alg], currentDate: new Date(NOW * 1000) }),
    ).resolves.toMatchObject({ payload: CLAIMS });
  });
});
