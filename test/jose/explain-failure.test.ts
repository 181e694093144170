/**
 * jose's verification errors, produced by real jose verifications, each translated to exactly
 * one failure kind; each caller's table words the reason.
 */
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import { describe, expect, test } from 'vitest';
import { classifyJoseError, explainJoseFailure, type JoseFailureTable } from '../../src/jose/explain-failure.js';

const NOW = Date.UTC(2026, 10, 28, 12);
const SEC = Math.floor(NOW / 1000);
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');

const sign = (claims: JWTPayload, typ = 'JWT'): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ }).sign(privateKey);

/** The error jose throws verifying `token`; fails the test if jose accepts it. */
async function joseError(token: string, options: Parameters<typeof jwtVerify>[2] = {}, key = publicKey): Promise<unknown> {
  try {
    await jwtVerify(token, key, { currentDate: new Date(NOW), ...options });
  } catch (err) {
    return err;
  }
  throw new Error('jose accepted the token');
}

const BASE = { iss: 'urn:iss', aud: 'svc', sub: 'a', iat: SEC, nbf: SEC, exp: SEC + 60 };

describe('classifyJoseError', () => {
  test('expired', async () => {
    expect(classifyJoseError(await joseError(await sign({ ...BASE, exp: SEC - 10 })))).toEqual({ kind: 'expired' });
  });
  test('nbf in the future', async () => {
    expect(classifyJoseError(await joseError(await sign({ ...BASE, nbf: SEC + 600 })))).toMatchObject({ kind: 'nbf', claim: 'nbf' });
  });
  test('another audience, with the token\'s claims to name it', async () => {
    expect(classifyJoseError(await joseError(await sign(BASE), { audience: 'other' }))).toMatchObject({ kind: 'aud', claim: 'aud', payload: { aud: 'svc' } });
  });
  test('another issuer', async () => {
    expect(classifyJoseError(await joseError(await sign(BASE), { issuer: 'urn:other' }))).toMatchObject({ kind: 'iss', claim: 'iss' });
  });
  test('another typ', async () => {
    expect(classifyJoseError(await joseError(await sign(BASE), { typ: 'tessera-cap+jwt' }))).toMatchObject({ kind: 'typ', claim: 'typ' });
  });
  test('a required claim missing', async () => {
    expect(classifyJoseError(await joseError(await sign(BASE), { requiredClaims: ['jti'] }))).toMatchObject({ kind: 'claim', claim: 'jti' });
  });
  test('an algorithm not allowed', async () => {
    expect(classifyJoseError(await joseError(await sign(BASE), { algorithms: ['ES256'] }))).toEqual({ kind: 'algorithm' });
  });
  test('a signature by another key', async () => {
    expect(classifyJoseError(await joseError(await sign(BASE), {}, other.publicKey))).toEqual({ kind: 'signature' });
  });
  test('not a JWS at all', async () => {
    expect(classifyJoseError(await joseError('not.a.jws'))).toEqual({ kind: 'malformed' });
  });
  test('anything that is not a jose error is undefined', () => {
    expect(classifyJoseError(new Error('x'))).toBeUndefined();
    expect(classifyJoseError('x')).toBeUndefined();
  });
});

describe('explainJoseFailure', () => {
  const TABLE: JoseFailureTable<'t_expired' | 't_invalid'> = {
    expired: ['t_expired', 'expired'],
    aud: ['t_invalid', (f) => `audience ${JSON.stringify((f.payload as { aud?: unknown }).aud)}`],
    claim: ['t_invalid', (f) => `claim ${f.claim}`],
  };

  test('the table\'s code and reason for the failure', async () => {
    expect(explainJoseFailure(await joseError(await sign({ ...BASE, exp: SEC - 10 })), TABLE)).toEqual({ code: 't_expired', reason: 'expired' });
    expect(explainJoseFailure(await joseError(await sign(BASE), { audience: 'other' }), TABLE)).toEqual({ code: 't_invalid', reason: 'audience "svc"' });
  });

  test('a claim failure the table does not name falls back to its claim entry', async () => {
    expect(explainJoseFailure(await joseError(await sign(BASE), { issuer: 'urn:other' }), TABLE)).toEqual({ code: 't_invalid', reason: 'claim iss' });
  });

  test('a failure the table does not cover, or no jose error, is left to the caller', async () => {
    expect(explainJoseFailure(await joseError(await sign(BASE), {}, other.publicKey), TABLE)).toBeUndefined();
    expect(explainJoseFailure(new TypeError('x'), TABLE)).toBeUndefined();
  });
});
