/**
 * One signed token, one string. A base64url decoder ignores the unused low bits of a segment's
 * last character, so without a canonical check a signature segment could be altered and still
 * verify. Every token kind is refused in any non-canonical spelling; each attack pins one code
 * and the tool never runs.
 */
import { SignJWT, type JWTPayload } from 'jose';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { verifyCallCredential, type Guard, guardTool } from '../../src/index.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { COMPACT_JWS } from '../../src/jose/compact-jws.js';
import { AGENT, AUDIENCE, setup } from '../support/fixtures.js';
import { createTestTrustDomain } from '../identity/trust-domain.js';
import { MAILER, setupChain, unpack } from '../delegation/chain-fixtures.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The same bytes, spelt differently: the last character with a non-zero unused low bit. */
function respellLast(segment: string): string {
  const unused = segment.length % 4 === 2 ? 4 : segment.length % 4 === 3 ? 2 : 0;
  if (unused === 0) throw new Error('this segment has no unused bits to set');
  const i = ALPHABET.indexOf(segment.at(-1)!);
  return segment.slice(0, -1) + ALPHABET[i | 1]!;
}

/** Variants of a token that decode to the same header, payload and signature bytes. */
function respellings(token: string): Record<string, string> {
  const [h, p, s] = token.split('.') as [string, string, string];
  const out: Record<string, string> = {
    'signature with a non-zero unused bit': `${h}.${p}.${respellLast(s)}`,
    'signature with "=" padding': `${h}.${p}.${s}${'='.repeat((4 - (s.length % 4)) % 4)}`,
    'signature in standard base64 (+ and /)': `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64').replace(/=+$/, '')}`,
  };
  if (h.length % 4 !== 0) out['header with a non-zero unused bit'] = `${respellLast(h)}.${p}.${s}`;
  if (p.length % 4 !== 0) out['payload with a non-zero unused bit'] = `${h}.${respellLast(p)}.${s}`;
  // Keep only spellings that really differ and still decode to the same bytes.
  for (const [k, v] of Object.entries(out)) {
    const [h2, p2, s2] = v.split('.') as [string, string, string];
    const same = (a: string, b: string) => Buffer.from(a, 'base64url').equals(Buffer.from(b.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url'));
    if (v === token || !(same(h, h2) && same(p, p2) && same(s, s2))) delete out[k];
  }
  return out;
}

describe('capabilities', () => {
  test.each(['signature with a non-zero unused bit', 'signature with "=" padding', 'signature in standard base64 (+ and /)', 'header with a non-zero unused bit', 'payload with a non-zero unused bit'])(
    '%s: capability_invalid',
    async (variant) => {
      const s = await setup();
      // Vary the intent id until the token has this spelling: every segment needs unused bits to
      // respell, and the standard-base64 spelling needs a '-' or '_' in the signature (about one
      // signature in fifteen has neither).
      let cap = '';
      let spelt: string | undefined;
      for (let n = 1; n < 64 && spelt === undefined; n++) {
        cap = await s.grant({ intent: { id: `ticket-${'7'.repeat(n)}`, purpose: 'Answer the ticket' } });
        spelt = respellings(cap)[variant];
      }
      if (spelt === undefined) return expect.fail(`the fixture token has no "${variant}" spelling`);
      // The genuine token is accepted, so the refusal below is about the spelling alone.
      await expect(s.readTicket({ ticketId: '4711' }, { capability: cap })).resolves.toMatchObject({ id: '4711' });
      await expect(s.readTicket({ ticketId: '4711' }, { capability: spelt })).rejects.toMatchObject({
        code: 'capability_invalid',
        reason: expect.stringMatching(/not a canonical compact JWS/),
      });
      expect(s.ran).toEqual(['tickets.read:4711']);
    },
  );
});

describe('call credentials', () => {
  test('a respelt call credential is refused (credential_invalid), the genuine one verifies', async () => {
    const s = await setup();
    const g: Guard = s.guard;
    const opts = { jwks: g.credentialJwks(), issuer: g.credentialIssuer, audience: 'files.read', store: g.store, clock: s.clock };
    const outcomes: unknown[] = [];
    const tool = guardTool(s.guard, { name: 'files.read', description: 'Read', input: z.object({}), risk: 'read' }, async (_a, ctx) => {
      // Checked while the call runs: the credential is revoked once it ends.
      const spelt = respellings(ctx.credential.token)['signature with a non-zero unused bit']!;
      outcomes.push(await verifyCallCredential(spelt, opts).then(() => 'accepted', (e: { code: string }) => e.code));
      outcomes.push(await verifyCallCredential(ctx.credential.token, opts).then(() => 'accepted', (e: { code: string }) => e.code));
      return 'ok';
    });
    await tool({}, { capability: await s.grant({ tools: { 'files.read': {} } }) });
    expect(outcomes).toEqual(['credential_invalid', 'accepted']);
  });
});

describe('JWT-SVIDs', () => {
  test('a respelt JWT-SVID is refused (identity_invalid)', async () => {
    let clock: () => number = () => 0;
    const td = await createTestTrustDomain('example.org', { clock: () => clock(), audience: AUDIENCE });
    const identity = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': td.bundle() }, clock: () => clock() });
    const s = await setup({ identity, requireIdentity: true });
    clock = s.clock;
    const cap = await s.grant();
    const svid = await td.svid(AGENT);
    const spelt = respellings(svid)['signature with a non-zero unused bit']!;
    expect(COMPACT_JWS.test(svid)).toBe(true);
    await expect(s.guard.withCapability({ capability: cap, identity: spelt }, () => s.readTicket({ ticketId: '1' }))).rejects.toMatchObject({
      code: 'identity_invalid',
    });
    expect(s.ran).toEqual([]);
  });
});

describe('delegation parents', () => {
  test('a child embedding a respelt parent (prt) is refused (capability_invalid)', async () => {
    const c = await setupChain();
    const { toResearcher } = await c.chain();
    const p = unpack(toResearcher).payload;
    const spelt = respellings(toResearcher)['signature with a non-zero unused bit']!;
    // A correctly signed child of the researcher whose embedded parent is the respelt token.
    const claims: Record<string, unknown> = {
      iss: p.sub,
      sub: MAILER,
      aud: p.aud,
      iat: p.iat,
      nbf: p.nbf,
      exp: p.exp,
      jti: 'child-aaaaaaaaaaaaaaaa',
      intent: p.intent,
      tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } },
      act: { sub: p.sub, act: p.act },
      prt: spelt,
    };
    const child = await new SignJWT(claims as JWTPayload)
      .setProtectedHeader({ alg: c.keys.researcher.signingKey.alg, typ: 'tessera-cap+jwt', jwk: c.keys.researcher.publicJwk })
      .sign(c.keys.researcher.signingKey.privateKey);
    await expect(c.sendEmail({ to: 'ops@example.com', body: 'hi' }, { capability: child })).rejects.toMatchObject({
      code: 'capability_invalid',
      reason: expect.stringMatching(/not a canonical compact JWS/),
    });
    expect(c.ran).toEqual([]);
  });
});
