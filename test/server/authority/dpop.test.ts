import { generateKeyPairSync, sign } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { beforeEach, describe, expect, test } from 'vitest';
import { createAgentKey, createHarness, ISSUER, oauthError, SUPPORT, type Harness } from './support.js';
import type { AgentKey } from '../../../src/identity/agent-key.js';

let h: Harness;
let key: AgentKey;
beforeEach(async () => {
  h = await createHarness();
  key = await createAgentKey('EdDSA', { clock: h.clock });
});

/** A proof signed by hand, Ed25519, with any header: jose refuses to sign some attacks. */
function raw(header: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64(header)}.${b64({ htm: 'POST', htu: `${ISSUER}/token`, iat: Math.floor(h.clock() / 1000), jti: 'abcdefghijkl' })}`;
  return `${input}.${sign(null, Buffer.from(input), key.signingKey.privateKey).toString('base64url')}`;
}

const refusal = async (proof: string): Promise<string> => {
  const res = await h.token(h.form(await h.svid(SUPPORT)), { DPoP: proof });
  return (await oauthError(res, 400)).error;
};

describe('DPoP proofs at the token endpoint', () => {
  test('an ES256 proof binds the capability as well', async () => {
    const es = await createAgentKey('ES256', { clock: h.clock });
    const res = await h.token(h.form(await h.svid(SUPPORT)), { DPoP: await h.dpop(es) });
    expect(((await res.json()) as { token_type: string }).token_type).toBe('DPoP');
  });

  test('a proof used twice is refused the second time (jti replay)', async () => {
    const proof = await h.dpop(key);
    expect((await h.token(h.form(await h.svid(SUPPORT)), { DPoP: proof })).status).toBe(200);
    const body = await oauthError(await h.token(h.form(await h.svid(SUPPORT)), { DPoP: proof }), 400);
    expect(body.error).toBe('invalid_dpop_proof');
    expect(body.error_description).toContain('already used');
  });

  test.each([
    ['typ other than dpop+jwt', () => h.dpop(key, { header: { typ: 'JWT' } })],
    ['htu of another endpoint', () => h.dpop(key, { htu: `${ISSUER}/revoke` })],
    ['htu with a query', () => h.dpop(key, { htu: `${ISSUER}/token?x=1` })],
    ['htm GET', () => h.dpop(key, { htm: 'GET' })],
    ['iat 61 s in the past', () => h.dpop(key, { iat: Math.floor(h.clock() / 1000) - 61 })],
    ['iat 61 s in the future', () => h.dpop(key, { iat: Math.floor(h.clock() / 1000) + 61 })],
    ['a jti shorter than 8 characters', () => h.dpop(key, { jti: 'abc' })],
    ['no jwk in the header', () => h.dpop(key, { header: { jwk: undefined } })],
    ['a private key member in the jwk', async () => h.dpop(key, { header: { jwk: { ...key.publicJwk, d: 'AAAA' } } })],
    ['an alg that does not match the key', async () => raw({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk })],
  ])('%s: invalid_dpop_proof', async (_name, make) => {
    expect(await refusal(await make())).toBe('invalid_dpop_proof');
  });

  test('a proof whose signature is by another key than its jwk is invalid_dpop_proof', async () => {
    const other = await createAgentKey('EdDSA');
    const proof = await new SignJWT({ htm: 'POST', htu: `${ISSUER}/token`, iat: Math.floor(h.clock() / 1000), jti: 'abcdefghijkl' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk: key.publicJwk })
      .sign(other.signingKey.privateKey);
    expect(await refusal(proof)).toBe('invalid_dpop_proof');
  });

  test('a symmetric HS256 proof is invalid_dpop_proof', async () => {
    const proof = await new SignJWT({ htm: 'POST', htu: `${ISSUER}/token`, iat: Math.floor(h.clock() / 1000), jti: 'abcdefghijkl' })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0' } as never })
      .sign(new TextEncoder().encode('secretsecretsecretsecretsecretsecret'));
    expect(await refusal(proof)).toBe('invalid_dpop_proof');
  });

  test('an RS256 proof is invalid_dpop_proof (only EdDSA and ES256)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const proof = await new SignJWT({ htm: 'POST', htu: `${ISSUER}/token`, iat: Math.floor(h.clock() / 1000), jti: 'abcdefghijkl' })
      .setProtectedHeader({ alg: 'RS256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    expect(await refusal(proof)).toBe('invalid_dpop_proof');
  });

  test('two DPoP headers are invalid_dpop_proof', async () => {
    const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded' });
    headers.append('DPoP', await h.dpop(key));
    headers.append('DPoP', await h.dpop(key));
    const res = await h.server.fetch(new Request(`${ISSUER}/token`, { method: 'POST', headers, body: new URLSearchParams(h.form(await h.svid(SUPPORT))).toString() }));
    expect((await oauthError(res, 400)).error).toBe('invalid_dpop_proof');
  });

  test('a store that cannot record the jti is temporarily_unavailable, never a grant', async () => {
    const broken = await createHarness({ server: {} });
    broken.store.consumeOnce = () => {
      throw new Error('connection lost');
    };
    const res = await broken.token(broken.form(await broken.svid(SUPPORT)), { DPoP: await broken.dpop(key) });
    expect((await oauthError(res, 503)).error).toBe('temporarily_unavailable');
  });
});
