import { generateKeyPairSync, sign as signBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { describe, expect, test } from 'vitest';
import type { CapabilitySigner } from '../../../src/capability/signer.js';
import type { IdentityVerifier } from '../../../src/identity/types.js';
import { createAgentKey, createHarness, GUARD_AUDIENCE, HELPER, ISSUER, oauthError, SUPPORT } from './support.js';
import { createAuthority } from '../../../src/capability/authority.js';

describe('per-agent rate limit on /token', () => {
  test('past the burst an agent gets 429 slow_down with Retry-After; other agents are unaffected; the bucket refills', async () => {
    const h = await createHarness({ server: { rateLimit: { burst: 2, perMinute: 6 } } });
    const form = async () => h.form(await h.svid(SUPPORT));
    expect((await h.token(await form())).status).toBe(200);
    expect((await h.token(await form())).status).toBe(200);
    const limited = await h.token(await form());
    expect((await oauthError(limited, 429)).error).toBe('slow_down');
    expect(limited.headers.get('retry-after')).toBe('10');
    expect((await h.token(h.form(await h.svid(HELPER), [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }]))).status).toBe(200);
    h.clock.advance('10s');
    expect((await h.token(await form())).status).toBe(200);
  });
});

describe('request body bound', () => {
  test('a body over 64 KiB is 413, whether declared or streamed', async () => {
    const h = await createHarness();
    const big = `${new URLSearchParams(h.form(await h.svid(SUPPORT))).toString()}&pad=${'a'.repeat(64 * 1024)}`;
    const declared = await h.server.fetch(new Request(`${ISSUER}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: big }));
    expect((await oauthError(declared, 413)).error).toBe('invalid_request');
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 80; i++) c.enqueue(new TextEncoder().encode('a'.repeat(1024)));
        c.close();
      },
    });
    const streamed = await h.server.fetch(
      new Request(`${ISSUER}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: stream, duplex: 'half' } as RequestInit),
    );
    expect((await oauthError(streamed, 413)).error).toBe('invalid_request');
  });

  test('a Content-Length under the bound does not let a larger body through', async () => {
    const h = await createHarness();
    const big = `${new URLSearchParams(h.form(await h.svid(SUPPORT))).toString()}&pad=${'a'.repeat(64 * 1024)}`;
    const lying = await h.server.fetch(
      new Request(`${ISSUER}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '100' }, body: big }),
    );
    expect((await oauthError(lying, 413)).error).toBe('invalid_request');
  });

  test('a body read by its declared length is decoded as strict UTF-8', async () => {
    const h = await createHarness();
    const body = new Uint8Array([0x61, 0x3d, 0xff]);
    const res = await h.server.fetch(
      new Request(`${ISSUER}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '3' }, body }),
    );
    expect(await oauthError(res, 400)).toEqual({ error: 'invalid_request', error_description: 'the request body is not UTF-8' });
  });
});

describe('deadlines on code the authority does not own', () => {
  test('an identity verifier that never answers is temporarily_unavailable after identityTimeoutMs', async () => {
    const hanging: IdentityVerifier = { verify: () => new Promise(() => undefined) };
    const h = await createHarness({ server: { identity: hanging, identityTimeoutMs: 50 } });
    const res = await h.token(h.form(await h.svid(SUPPORT)));
    expect((await oauthError(res, 503)).error).toBe('temporarily_unavailable');
  });
});

/** A signer holding its Ed25519 key in a closure, as a KMS would hold it outside the process. */
function closureSigner(behaviour: 'ok' | 'hang' | 'wrong-key' = 'ok'): CapabilitySigner {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const wrong = generateKeyPairSync('ed25519').privateKey;
  return {
    publicJwk: publicKey.export({ format: 'jwk' }) as JWK,
    sign: (input) =>
      behaviour === 'hang'
        ? new Promise(() => undefined)
        : Promise.resolve(new Uint8Array(signBytes(null, input, behaviour === 'wrong-key' ? wrong : privateKey))),
  };
}

describe('an external signer', () => {
  test('signs grants the guard accepts without the private key in the authority; rotation keeps the old key published', async () => {
    const signer = closureSigner();
    const h = await createHarness({ authority: { signer } });
    const res = await h.token(h.form(await h.svid(SUPPORT)));
    expect(res.status).toBe(200);
    const cap = ((await res.json()) as { access_token: string }).access_token;
    expect(decodeProtectedHeader(cap)).toEqual({ alg: 'EdDSA', typ: 'tessera-cap+jwt', kid: h.authority.kid });
    expect(decodeJwt(cap)).toMatchObject({ sub: SUPPORT, aud: GUARD_AUDIENCE });
    const first = h.authority.kid;
    await h.authority.rotate(closureSigner());
    const { keys } = (await (await h.server.fetch(new Request(`${ISSUER}/jwks.json`))).json()) as { keys: JWK[] };
    expect(keys.map((k) => k.kid)).toEqual([h.authority.kid, first]);
    expect(keys.every((k) => !('d' in k))).toBe(true);
  });

  test('a signer that hangs is temporarily_unavailable after signerTimeoutMs', async () => {
    const h = await createHarness({ authority: { signer: closureSigner('hang'), signerTimeoutMs: 50 } });
    expect((await oauthError(await h.token(h.form(await h.svid(SUPPORT))), 503)).error).toBe('temporarily_unavailable');
  });

  test('a signature by another key than the published one never leaves the authority', async () => {
    const h = await createHarness({ authority: { signer: closureSigner('wrong-key') } });
    expect((await oauthError(await h.token(h.form(await h.svid(SUPPORT))), 503)).error).toBe('temporarily_unavailable');
  });

  test('delegation through a signer is signed by it too', async () => {
    const h = await createHarness({ authority: { signer: closureSigner() } });
    const key = await createAgentKey('EdDSA', { clock: h.clock });
    const parent = ((await (await h.token(h.form(await h.svid(SUPPORT)), { DPoP: await h.dpop(key) })).json()) as { access_token: string }).access_token;
    const child = await h.token(
      h.form(await h.svid(HELPER), [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }], { actor_token: parent, actor_token_type: 'urn:ietf:params:oauth:token-type:jwt' }),
      { DPoP: await h.dpop(key) },
    );
    expect(child.status).toBe(200);
    expect(decodeProtectedHeader(((await child.json()) as { access_token: string }).access_token).kid).toBe(h.authority.kid);
  });

  test.each([
    ['a private JWK as publicJwk', () => ({ publicJwk: generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK, sign: async () => new Uint8Array() })],
    ['an RSA key', () => ({ publicJwk: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }) as JWK, sign: async () => new Uint8Array() })],
  ])('%s is a TypeError at construction', async (_n, make) => {
    await expect(createAuthority({ issuer: ISSUER, signer: make() })).rejects.toThrow(TypeError);
  });

  test('signingKey and signer together is a TypeError', async () => {
    await expect(createAuthority({ issuer: ISSUER, signer: closureSigner(), signingKey: generateKeyPairSync('ed25519').privateKey })).rejects.toThrow(TypeError);
  });
});
