/**
 * Adversarial JWT-SVIDs presented to a guard that requires a verified identity. Each pins
 * exactly one outcome; in every denial the tool's body never runs.
 */
import { generateKeyPairSync } from 'node:crypto';
import { beforeEach, describe, expect, test } from 'vitest';
import { ToolDeniedError } from '../../src/errors.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { AGENT, AUDIENCE, setup } from '../support/fixtures.js';
import { createTestTrustDomain, type TestTrustDomain } from '../identity/trust-domain.js';

const ARGS = { ticketId: '4711' };
let s: Awaited<ReturnType<typeof setup>>;
let td: TestTrustDomain;
let evil: TestTrustDomain;
let cap: string;

beforeEach(async () => {
  let clock: () => number = () => 0;
  td = await createTestTrustDomain('example.org', { clock: () => clock(), audience: AUDIENCE });
  evil = await createTestTrustDomain('evil.org', { clock: () => clock(), audience: AUDIENCE });
  const identity = createJwtSvidVerifier({
    audience: AUDIENCE,
    trustDomains: { 'example.org': td.bundle() },
    clock: () => clock(),
  });
  s = await setup({ identity, requireIdentity: true });
  clock = s.clock;
  cap = await s.grant();
});

async function call(identity: string | undefined): Promise<unknown> {
  return s.guard.withCapability(identity === undefined ? { capability: cap } : { capability: cap, identity }, () => s.readTicket(ARGS));
}

async function deniedWith(identity: string | undefined): Promise<ToolDeniedError> {
  const err = await call(identity).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ToolDeniedError);
  expect(s.ran).toEqual([]);
  if (identity !== undefined) {
    expect((err as Error).message).not.toContain(identity);
    expect(JSON.stringify(err)).not.toContain(identity);
  }
  return err as ToolDeniedError;
}

describe('JWT-SVID binding', () => {
  test('a valid JWT-SVID for the capability subject is accepted', async () => {
    const r = await call(await td.svid(AGENT));
    expect(r).toMatchObject({ id: '4711' });
    expect(s.ran).toEqual(['tickets.read:4711']);
  });

  test('typ "JOSE" and no typ are accepted too', async () => {
    await call(await td.svid(AGENT, { header: { typ: 'JOSE' } }));
    await call(await td.svid(AGENT, { header: { typ: undefined } }));
    expect(s.ran).toEqual(['tickets.read:4711', 'tickets.read:4711']);
  });

  test('an aud array containing our audience is accepted', async () => {
    await call(await td.svid(AGENT, { aud: ['other', AUDIENCE] }));
    expect(s.ran).toEqual(['tickets.read:4711']);
  });

  test('no identity presented when the guard requires one: identity_invalid', async () => {
    expect((await deniedWith(undefined)).code).toBe('identity_invalid');
  });

  test("a valid SVID for another workload: identity_mismatch", async () => {
    const err = await deniedWith(await td.svid('spiffe://example.org/agents/billing'));
    expect(err.code).toBe('identity_mismatch');
    expect(err.reason).toContain('spiffe://example.org/agents/billing');
  });

  test('an EdDSA-signed SVID: identity_invalid', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const err = await deniedWith(await td.svid(AGENT, { alg: 'EdDSA', key: privateKey }));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('algorithm');
  });

  test('an HS256-signed SVID: identity_invalid', async () => {
    const err = await deniedWith(await td.svid(AGENT, { alg: 'HS256', key: Buffer.alloc(32, 7) as never }));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('algorithm');
  });

  test.each(['jku', 'x5u', 'x5c', 'jwk', 'cty', 'b64'])('an extra "%s" header: identity_invalid', async (h) => {
    const value = h === 'x5c' ? ['MIIB'] : h === 'jwk' ? { kty: 'EC' } : h === 'b64' ? true : 'https://attacker.example/x';
    const err = await deniedWith(await td.svid(AGENT, { header: { [h]: value } }));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain(`"${h}"`);
  });

  test('typ "at+jwt": identity_invalid', async () => {
    const err = await deniedWith(await td.svid(AGENT, { header: { typ: 'at+jwt' } }));
    expect(err.code).toBe('identity_invalid');
  });

  test('missing aud: identity_invalid', async () => {
    const err = await deniedWith(await td.svid(AGENT, { aud: null }));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('no aud');
  });

  test('aud for another service: identity_invalid', async () => {
    const err = await deniedWith(await td.svid(AGENT, { aud: 'other-app' }));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('audience');
  });

  test('missing exp: identity_invalid', async () => {
    const err = await deniedWith(await td.svid(AGENT, { ttl: null }));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('no exp');
  });

  test('an SVID issued in the future (iat beyond the skew): identity_invalid', async () => {
    const future = Math.floor(s.clock() / 1000) + 3600;
    const err = await deniedWith(await td.svid(AGENT, { claims: { iat: future, exp: future + 300 } }));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('issued in the future');
  });

  test('an expired SVID: identity_invalid', async () => {
    const svid = await td.svid(AGENT, { ttl: 60 });
    s.clock.advance(91_000);
    const err = await deniedWith(svid);
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('expired');
  });

  test('a cached SVID stops working once it expires', async () => {
    const svid = await td.svid(AGENT, { ttl: 60 });
    await call(svid);
    s.clock.advance(120_000);
    const err = await call(svid).then(
      () => undefined,
      (e: unknown) => e as ToolDeniedError,
    );
    expect(err?.code).toBe('identity_invalid');
    expect(s.ran).toEqual(['tickets.read:4711']);
  });

  test('an SVID from an untrusted trust domain: identity_invalid', async () => {
    const err = await deniedWith(await evil.svid('spiffe://evil.org/agents/support'));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('"evil.org" is not trusted');
  });

  test("an SVID claiming our trust domain, signed by another domain's key under our kid: identity_invalid", async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const err = await deniedWith(await td.svid(AGENT, { key: privateKey }));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('signature');
  });

  test('an SVID naming a kid the bundle does not hold: identity_invalid', async () => {
    const err = await deniedWith(await td.svid(AGENT, { kid: 'unknown-kid' }));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain('kid');
  });

  test.each<[string, string, string]>([
    ['a ".." segment', 'spiffe://example.org/agents/../support', 'path_dot_segment'],
    ['a port', 'spiffe://example.org:443/agents/support', 'port'],
    ['an upper-case trust domain', 'spiffe://Example.org/agents/support', 'trust_domain_characters'],
    ['over 2048 bytes', `spiffe://example.org/${'a'.repeat(2048)}`, 'too_long'],
    ['a trailing slash', 'spiffe://example.org/agents/support/', 'path_trailing_slash'],
    ['another scheme', 'https://example.org/agents/support', 'scheme'],
  ])('a sub with %s: identity_invalid naming rule', async (_label, sub, rule) => {
    const err = await deniedWith(await td.svid(sub));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toContain(`(${rule})`);
  });

  test('garbage instead of a token: identity_invalid', async () => {
    expect((await deniedWith('not.a.jwt')).code).toBe('identity_invalid');
  });
});

describe('JWT-SVID verifier options', () => {
  test('bad options are refused at construction, naming the option', () => {
    expect(() => createJwtSvidVerifier({ audience: '', trustDomains: { 'example.org': { keys: [] } } })).toThrow(/audience/);
    expect(() => createJwtSvidVerifier({ audience: 'a', trustDomains: {} })).toThrow(/trustDomains/);
    expect(() => createJwtSvidVerifier({ audience: 'a', trustDomains: { 'Example.org': { keys: [] } } })).toThrow(/trust_domain_characters/);
    expect(() => createJwtSvidVerifier({ audience: 'a', trustDomains: { 'example.org': new URL('http://example.org/b') } })).toThrow(/https/);
  });
});
