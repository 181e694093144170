import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT, base64url, type JWTPayload } from 'jose';
import { beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  createAuthority,
  createGuard,
  generateSigningKey,
  verifyCallCredential,
  type Authority,
  type Guard,
  type GuardedTool,
  type SigningKey,
  guardTool,
} from '../../src/index.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';

// Each attack pins exactly one outcome: the denial code, and the tool never runs.

let clock: ReturnType<typeof manualClock>;
let key: SigningKey;
let authority: Authority;
let guard: Guard;
let read: GuardedTool;
let ran: number;

const now = () => Math.floor(clock() / 1000);

function claims(over: JWTPayload = {}): JWTPayload {
  return {
    iss: ISSUER,
    sub: AGENT,
    aud: AUDIENCE,
    iat: now(),
    nbf: now(),
    exp: now() + 300,
    jti: 'jti-aaaaaaaaaaaaaaaa',
    intent: { id: 'i-1', purpose: 'test' },
    tools: { 'tickets.read': {} },
    ...over,
  };
}

async function sign(payload: JWTPayload, header: Record<string, unknown> = {}, k: SigningKey = key): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: k.alg, typ: 'tessera-cap+jwt', kid: k.kid, ...header }).sign(k.privateKey);
}

async function denial(token: string): Promise<{ code: string; reason: string }> {
  const err = (await read({ ticketId: '1' }, { capability: token }).then(
    () => ({ code: 'ALLOWED', reason: '' }),
    (e: { code: string; reason: string }) => e,
  )) as { code: string; reason: string };
  return { code: err.code, reason: err.reason };
}

beforeEach(async () => {
  clock = manualClock();
  key = await generateSigningKey();
  authority = await createAuthority({ issuer: ISSUER, signingKey: key, clock });
  guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() }, clock });
  ran = 0;
  read = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }), risk: 'read' }, () => {
    ran++;
    return 'ran';
  });
});

describe('capability token attacks', () => {
  test('a well-formed token is allowed (control)', async () => {
    await expect(read({ ticketId: '1' }, { capability: await sign(claims()) })).resolves.toBe('ran');
    expect(ran).toBe(1);
  });

  test('alg none (empty signature) is refused', async () => {
    const h = base64url.encode(JSON.stringify({ alg: 'none', typ: 'tessera-cap+jwt', kid: key.kid }));
    const p = base64url.encode(JSON.stringify(claims()));
    expect(await denial(`${h}.${p}.`)).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/compact JWS/) });
    expect(ran).toBe(0);
  });

  test('alg none with a junk signature is refused', async () => {
    const h = base64url.encode(JSON.stringify({ alg: 'none', typ: 'tessera-cap+jwt', kid: key.kid }));
    const p = base64url.encode(JSON.stringify(claims()));
    expect(await denial(`${h}.${p}.AAAA`)).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/algorithm/) });
    expect(ran).toBe(0);
  });

  test('HS256 signed with the public key as the secret is refused', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk));
    const pem = createPublicKey(key.privateKey).export({ format: 'pem', type: 'spki' });
    for (const s of [secret, new TextEncoder().encode(String(pem))]) {
      const t = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'tessera-cap+jwt', kid: key.kid }).sign(s);
      expect(await denial(t)).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/algorithm/) });
    }
    expect(ran).toBe(0);
  });

  test('a token signed by an untrusted key with a trusted kid is refused', async () => {
    const rogue = await generateSigningKey();
    const t = await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', typ: 'tessera-cap+jwt', kid: key.kid }).sign(rogue.privateKey);
    expect(await denial(t)).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/signature/) });
  });

  test('an unknown kid is refused', async () => {
    const rogue = await generateSigningKey();
    expect(await denial(await sign(claims(), {}, rogue))).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/kid/) });
  });

  test.each(['jwk', 'jku', 'x5u', 'x5c'])('a %s header is refused even when the signature is valid', async (h) => {
    const value = h === 'jwk' ? key.publicJwk : h === 'x5c' ? ['MIIB'] : 'https://evil.example/keys';
    expect(await denial(await sign(claims(), { [h]: value }))).toMatchObject({
      code: 'capability_invalid',
      reason: expect.stringContaining(`"${h}"`),
    });
  });

  test('a call credential presented as a capability is refused (typ)', async () => {
    let credential = '';
    const t = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }), risk: 'read' }, (_a, ctx) => {
      credential = ctx.credential.token;
    });
    await t({ ticketId: '1' }, { capability: await sign(claims()) });
    expect(await denial(credential)).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/typ/) });
  });

  test('a capability presented as a call credential is refused (typ)', async () => {
    const cap = await sign(claims());
    await expect(
      verifyCallCredential(cap, { jwks: authority.jwks(), issuer: ISSUER, audience: AUDIENCE, store: guard.store, clock }),
    ).rejects.toMatchObject({ code: 'credential_invalid', reason: expect.stringMatching(/typ/) });
  });

  test('typ differing only in case or with an application/ prefix is refused (exact match)', async () => {
    expect((await denial(await sign(claims(), { typ: 'TESSERA-CAP+JWT' }))).code).toBe('capability_invalid');
    expect((await denial(await sign(claims(), { typ: 'application/tessera-cap+jwt' }))).code).toBe('capability_invalid');
  });

  test('a capability for another audience is refused', async () => {
    expect(await denial(await sign(claims({ aud: 'other-app' })))).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/audience/) });
  });

  test('a capability naming several audiences is refused', async () => {
    expect(await denial(await sign(claims({ aud: [AUDIENCE, 'other-app'] })))).toMatchObject({
      code: 'capability_invalid',
      reason: expect.stringMatching(/several audiences/),
    });
  });

  test('a capability from an untrusted issuer is refused', async () => {
    expect(await denial(await sign(claims({ iss: 'https://evil.example' })))).toMatchObject({
      code: 'capability_invalid',
      reason: expect.stringMatching(/untrusted issuer/),
    });
  });

  test('an expired capability is refused capability_expired, also once cached', async () => {
    const t = await sign(claims());
    await read({ ticketId: '1' }, { capability: t });
    clock.advance(301_000 + 30_000);
    expect((await denial(t)).code).toBe('capability_expired');
    expect(ran).toBe(1);
  });

  test('a capability within the clock skew after exp still verifies, but no call runs on it: its credential would outlive it', async () => {
    const t = await sign(claims());
    clock.advance(301_000 + 20_000);
    await expect(guard.inspect(t)).resolves.toMatchObject({ id: 'jti-aaaaaaaaaaaaaaaa' });
    expect(await denial(t)).toMatchObject({ code: 'capability_expired' });
    expect(ran).toBe(0);
  });

  test('a capability not yet valid is refused', async () => {
    expect(await denial(await sign(claims({ nbf: now() + 120 })))).toMatchObject({
      code: 'capability_invalid',
      reason: expect.stringMatching(/not valid yet/),
    });
  });

  test('a far-future iat is refused', async () => {
    expect(await denial(await sign(claims({ iat: now() + 3600, exp: now() + 3900 })))).toMatchObject({
      code: 'capability_invalid',
      reason: expect.stringMatching(/future/),
    });
  });

  test('a capability living longer than the guard accepts is refused', async () => {
    expect(await denial(await sign(claims({ exp: now() + 7 * 86400 })))).toMatchObject({
      code: 'capability_invalid',
      reason: expect.stringMatching(/lives longer/),
    });
  });

  test('a tampered payload is refused', async () => {
    const t = await sign(claims());
    const [h, , s] = t.split('.');
    const p = base64url.encode(JSON.stringify(claims({ tools: { 'tickets.read': {}, 'admin.drop': {} } })));
    expect(await denial(`${h}.${p}.${s}`)).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/signature/) });
  });

  test('missing required claims are refused', async () => {
    const c = claims();
    delete c.jti;
    expect((await denial(await sign(c))).code).toBe('capability_invalid');
  });

  test('malformed tokens are refused', async () => {
    for (const t of ['', 'abc', 'a.b', 'a.b.c.d', '....', 'eyJ.eyJ.@@@', '{"alg":"none"}']) {
      expect((await denial(t)).code).toMatch(/^capability_(invalid|missing)$/);
    }
    expect((await denial('')).code).toBe('capability_missing');
    expect((await denial('a.b.c')).code).toBe('capability_invalid');
  });

  test('an oversized token is refused before parsing', async () => {
    const huge = `${'a'.repeat(20_000)}.${'b'.repeat(20_000)}.c`;
    expect(await denial(huge)).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/larger than 16384 bytes/) });
  });

  test('a grant naming __proto__ as a tool is refused at verification', async () => {
    const t = await sign(claims({ tools: JSON.parse('{"__proto__": {}, "tickets.read": {}}') }));
    expect(await denial(t)).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/__proto__/) });
  });

  test('a grant naming constructor as a tool is refused at verification', async () => {
    const t = await sign(claims({ tools: { constructor: {}, 'tickets.read': {} } }));
    expect(await denial(t)).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/reserved name/) });
  });

  test('an argument constraint keyed __proto__ is refused at verification', async () => {
    const t = await sign(claims({ tools: { 'tickets.read': { args: JSON.parse('{"__proto__": {"eq": "1"}}') } } }));
    expect((await denial(t)).code).toBe('capability_invalid');
  });

  test('unknown constraints smuggled into a signed token are refused', async () => {
    const t = await sign(claims({ tools: { 'tickets.read': { args: { ticketId: { regex: '.*' } } } } }));
    expect((await denial(t)).code).toBe('capability_invalid');
  });

  test('errors and reasons never quote the token', async () => {
    const t = await sign(claims({ aud: 'other-app' }));
    const err = (await read({ ticketId: '1' }, { capability: t }).catch((e: Error) => e)) as Error;
    const sig = t.split('.')[2]!;
    expect(JSON.stringify({ ...err, message: err.message, stack: err.stack })).not.toContain(sig);
    expect(err.message).not.toContain(t.split('.')[1]!);
  });
});

describe('trust configuration', () => {
  test('keys from a token are never fetched: a guard trusting only an object JWKS does no I/O', async () => {
    // A jku header pointing anywhere is refused outright (see above); here a key set given as a
    // function is asked again on an unknown kid, so rotation works without any URL.
    const rotated = await generateSigningKey();
    await authority.rotate(rotated);
    const g = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => authority.jwks() }, clock });
    const t = guardTool(g, { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }), risk: 'read' }, () => 'ok');
    const fresh = await authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { 'tickets.read': {} } });
    await expect(t({ ticketId: '1' }, { capability: fresh })).resolves.toBe('ok');
  });

  test('an HS algorithm in the trust allowlist is refused at construction', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    expect(publicKey).toBeDefined();
    expect(() => createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: { keys: [] }, algorithms: ['EdDSA', 'none'] } })).toThrow(
      /"none" is refused/,
    );
  });
});

describe('ids that end up in store keys', () => {
  test('a jti with a separator is refused, so store keys stay unambiguous', async () => {
    const t = await sign(claims({ jti: 'aaaaaaaaaaaaaaaa:tickets.read' }));
    expect(await denial(t)).toMatchObject({ code: 'capability_invalid', reason: expect.stringMatching(/jti/) });
    expect(ran).toBe(0);
  });
});
