/**
 * Identity and credential verification paths that must fail closed. Each test pins exactly one
 * outcome.
 */
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { verifyCallCredential } from '../../src/index.js';
import type { CredentialState, TesseraStore } from '../../src/store/types.js';
import { AGENT, setup } from '../support/fixtures.js';

describe('verifyCallCredential', () => {
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
    const t = guard.tool({ name: 'files.read', description: 'r', input: z.object({ path: z.string() }), risk: 'read' }, async (_a, ctx) => {
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
