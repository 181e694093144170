import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { CapabilityError, createAuthority, createGuard, generateSigningKey, guardTool } from '../../src/index.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';

const base = {
  agent: AGENT,
  audience: AUDIENCE,
  intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
  tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } } },
};

describe('authority.grant', () => {
  test('signs a compact JWS with typ tessera-cap+jwt, EdDSA, a kid and the intent-scoped claims', async () => {
    const clock = manualClock();
    const a = await createAuthority({ issuer: ISSUER, clock });
    const token = await a.grant({ ...base, ttl: '5m' });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', typ: 'tessera-cap+jwt', kid: a.kid });
    const c = decodeJwt(token);
    expect(c).toMatchObject({ iss: ISSUER, sub: AGENT, aud: AUDIENCE, intent: base.intent, tools: base.tools });
    expect(c.exp! - c.iat!).toBe(300);
    expect(c.nbf).toBe(c.iat);
    expect(c.jti).toMatch(/^[\w-]{21}$/);
  });

  test('ES256 keys work too', async () => {
    const a = await createAuthority({ issuer: ISSUER, algorithm: 'ES256' });
    expect(decodeProtectedHeader(await a.grant(base)).alg).toBe('ES256');
    expect(a.jwks().keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(a.jwks().keys[0]).not.toHaveProperty('d');
  });

  test.each([
    ['an unknown constraint', { tools: { 'tickets.read': { args: { ticketId: { startWith: '47' } } } } }, /unrecognized|startWith/i],
    ['a negative limit', { tools: { 'tickets.read': { maxCalls: -1 } } }, /maxCalls/],
    ['a zero limit', { tools: { 'tickets.read': { maxCalls: 0 } } }, /maxCalls/],
    ['no tools', { tools: {} }, /at least one tool/],
    ['a pattern outside RE2 syntax', { tools: { 'tickets.read': { args: { ticketId: { pattern: '(a)\\1' } } } } }, /ticketId\.pattern: pattern refused/],
    ['an unknown top-level field', { role: 'admin' }, /role/],
  ])('refuses %s with a clear error', async (_name, over, message) => {
    const a = await createAuthority({ issuer: ISSUER });
    const err = await a.grant({ ...base, ...(over as object) } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapabilityError);
    expect((err as CapabilityError).code).toBe('grant_invalid');
    expect((err as Error).message).toMatch(message);
  });

  test('refuses a ttl beyond the authority maximum', async () => {
    const a = await createAuthority({ issuer: ISSUER, maxTtl: '15m' });
    await expect(a.grant({ ...base, ttl: '2h' })).rejects.toThrow(/exceeds the authority's maxTtl of 900s/);
    await expect(a.grant({ ...base, ttl: 'soon' as never })).rejects.toThrow(/grant.ttl/);
  });

  test('refuses bad options at construction, naming them', async () => {
    await expect(createAuthority({ issuer: '' })).rejects.toThrow(/issuer/);
    await expect(createAuthority({ issuer: ISSUER, maxTtl: '1m', defaultTtl: '5m' })).rejects.toThrow(/defaultTtl/);
    await expect(createAuthority({ issuer: ISSUER, signingKey: { kty: 'oct', k: 'AAAA' } as never })).rejects.toThrow(/private JWK/);
  });

  test('key rotation: old tokens verify until they expire, new tokens use the new kid', async () => {
    const clock = manualClock();
    const a = await createAuthority({ issuer: ISSUER, clock, maxTtl: '10m' });
    const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => a.jwks() }, clock });
    const t = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read' }, () => 'ok');
    const before = await a.grant({ ...base, ttl: '5m' });
    const oldKid = a.kid;
    const next = await generateSigningKey();
    await a.rotate(next);
    expect(a.kid).toBe(next.kid);
    expect(a.jwks().keys.map((k) => k.kid)).toEqual([next.kid, oldKid]);
    const after = await a.grant({ ...base, ttl: '5m' });
    expect(decodeProtectedHeader(after).kid).toBe(next.kid);
    await expect(t({ ticketId: '4711' }, { capability: before })).resolves.toBe('ok');
    await expect(t({ ticketId: '4711' }, { capability: after })).resolves.toBe('ok');
    clock.advance(11 * 60_000);
    expect(a.jwks().keys.map((k) => k.kid)).toEqual([next.kid]);
  });
});
