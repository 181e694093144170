import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { decodeJwt } from 'jose';
import { hashArguments, verifyCallCredential, type Guard, guardTool } from '../../src/index.js';
import type { CredentialState, TesseraStore } from '../../src/store/types.js';
import { AGENT, setup } from '../support/fixtures.js';

async function capture(guard: Guard, cap: string, clock: () => number) {
  const tokens: string[] = [];
  const downstream: unknown[] = [];
  const t = guardTool(
    guard,
    {
      name: 'files.read',
      description: 'Read a file',
      input: z.object({ path: z.string() }),
      risk: 'read',
      credential: { audience: 'files-api' },
    },
    async (args, ctx) => {
      tokens.push(ctx.credential.token);
      // The downstream service verifies while the call is in flight.
      downstream.push(
        await verifyCallCredential(ctx.credential.token, {
          jwks: guard.credentialJwks(),
          issuer: guard.credentialIssuer,
          audience: 'files-api',
          store: guard.store,
          tool: 'files.read',
          argsHash: hashArguments(args),
          clock,
        }).catch((e: { code: string }) => e.code),
      );
    },
  );
  await guard.withCapability(cap, () => t({ path: '/a' }));
  return { token: tokens[0]!, downstream: downstream[0] };
}

describe('just-in-time call credentials', () => {
  test('bound to the tool, call, arguments and capability; accepted once while the call runs', async () => {
    const { guard, authority, clock } = await setup();
    const cap = await authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i-9', purpose: 'p' }, tools: { 'files.read': {} } });
    const { token, downstream } = await capture(guard, cap, clock);
    expect(downstream).toMatchObject({ aud: 'files-api', sub: AGENT, tool: 'files.read', args_sha256: hashArguments({ path: '/a' }), intent_id: 'i-9', cap_jti: decodeJwt(cap).jti });
    const c = decodeJwt(token);
    expect(c.exp! - c.iat!).toBe(30);
  });

  test('a replay after the first use is rejected replay_detected', async () => {
    const { guard, authority, clock } = await setup();
    const cap = await authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'files.read': {} } });
    const { token } = await capture(guard, cap, clock);
    const opts = { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'files-api', store: guard.store, clock };
    await expect(verifyCallCredential(token, opts)).rejects.toMatchObject({ code: 'replay_detected', reason: expect.stringMatching(/already used/) });
  });

  test('a credential never presented during its call is revoked when the call ends', async () => {
    const { guard, authority, clock } = await setup();
    const cap = await authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'files.read': {} } });
    let token = '';
    const t = guardTool(guard, { name: 'files.read', description: 'r', input: z.object({ path: z.string() }), risk: 'read' }, (_a, ctx) => {
      token = ctx.credential.token;
    });
    await guard.withCapability(cap, () => t({ path: '/a' }));
    await expect(
      verifyCallCredential(token, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'files.read', store: guard.store, clock }),
    ).rejects.toMatchObject({ code: 'replay_detected', reason: expect.stringMatching(/revoked/) });
  });

  test('wrong audience, tool or arguments are rejected credential_invalid', async () => {
    const { guard, authority, clock } = await setup();
    const cap = await authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'files.read': {} } });
    let token = '';
    const t = guardTool(guard, { name: 'files.read', description: 'r', input: z.object({ path: z.string() }), risk: 'read' }, async (_a, ctx) => {
      token = ctx.credential.token;
      const base = { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, store: guard.store, clock };
      await expect(verifyCallCredential(token, { ...base, audience: 'other-api' })).rejects.toMatchObject({ code: 'credential_invalid' });
      await expect(verifyCallCredential(token, { ...base, audience: 'files.read', tool: 'files.write' })).rejects.toMatchObject({ code: 'credential_invalid' });
      await expect(verifyCallCredential(token, { ...base, audience: 'files.read', argsHash: hashArguments({ path: '/etc' }) })).rejects.toMatchObject({
        code: 'credential_invalid',
      });
      await expect(verifyCallCredential(token, { ...base, issuer: 'urn:other', audience: 'files.read' })).rejects.toMatchObject({ code: 'credential_invalid' });
    });
    await guard.withCapability(cap, () => t({ path: '/a' }));
  });

  test('an expired credential is rejected credential_expired', async () => {
    const { guard, authority, clock } = await setup();
    const cap = await authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'files.read': {} } });
    const t = guardTool(guard, { name: 'files.read', description: 'r', input: z.object({ path: z.string() }), risk: 'read', credential: { ttl: '2s' } }, async (_a, ctx) => {
      clock.advance(10_000);
      await expect(
        verifyCallCredential(ctx.credential.token, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'files.read', store: guard.store, clock }),
      ).rejects.toMatchObject({ code: 'credential_expired' });
    });
    await guard.withCapability(cap, () => t({ path: '/a' }));
  });

  test('a forged credential signed by another key is rejected credential_invalid', async () => {
    const a = await setup();
    const b = await setup();
    const cap = await b.authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'files.read': {} } });
    const t = guardTool(b.guard, { name: 'files.read', description: 'r', input: z.object({ path: z.string() }), risk: 'read' }, async (_x, ctx) => {
      await expect(
        verifyCallCredential(ctx.credential.token, { jwks: a.guard.credentialJwks(), issuer: b.guard.credentialIssuer, audience: 'files.read', store: b.guard.store, clock: b.clock }),
      ).rejects.toMatchObject({ code: 'credential_invalid' });
    });
    await b.guard.withCapability(cap, () => t({ path: '/a' }));
  });
});

describe('verifyCallCredential with a store answering outside its states', () => {
  test('a store answering something other than ok, spent, revoked or unknown: store_unavailable, never accepted', async () => {
    const { guard, authority, clock } = await setup();
    const cap = await authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'files.read': {} } });
    const inner = guard.store;
    // A store implementation that answers outside the documented states (here: nothing at all).
    const odd: TesseraStore = {
      reserve: (r) => inner.reserve(r),
      revoke: (k, at, ttl) => inner.revoke(k, at, ttl),
      consumeOnce: (k, ttl) => inner.consumeOnce(k, ttl),
      consumeCredential: () => undefined as unknown as CredentialState,
      revokeCredential: (id, ttl) => inner.revokeCredential(id, ttl),
    };
    let outcome: unknown;
    const t = guardTool(guard, { name: 'files.read', description: 'r', input: z.object({ path: z.string() }), risk: 'read' }, async (_a, ctx) => {
      outcome = await verifyCallCredential(ctx.credential.token, {
        jwks: guard.credentialJwks(),
        issuer: guard.credentialIssuer,
        audience: 'files.read',
        store: odd,
        clock,
      }).then(
        () => 'accepted',
        (e: { code: string }) => e.code,
      );
    });
    await guard.withCapability(cap, () => t({ path: '/a' }));
    expect(outcome).toBe('store_unavailable');
  });
});
