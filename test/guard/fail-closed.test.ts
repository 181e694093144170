import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createMemoryStore, type CredentialProvider, type TesseraStore, guardTool } from '../../src/index.js';
import { setup } from '../support/fixtures.js';

// Every stage that can fail denies the call with its own code, and the tool body never runs.

function brokenStore(how: 'throw' | 'reject' | 'hang'): TesseraStore {
  const base = createMemoryStore();
  return {
    ...base,
    reserve() {
      if (how === 'throw') throw new Error('ECONNREFUSED redis://:hunter2@10.0.0.1');
      if (how === 'reject') return Promise.reject(new Error('connection lost'));
      return new Promise(() => {});
    },
  };
}

describe('fail closed', () => {
  test.each(['throw', 'reject'] as const)('a store that fails (%s) denies store_unavailable without leaking its error', async (how) => {
    const { readTicket, grant, guard, ran } = await setup({ store: brokenStore(how) });
    const cap = await grant();
    const err = await guard.withCapability(cap, () => readTicket({ ticketId: '4711' })).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'store_unavailable' });
    expect(String((err as Error).message)).not.toContain('hunter2');
    expect(ran).toEqual([]);
  });

  test('a credential provider that throws denies credential_unavailable', async () => {
    const provider: CredentialProvider = {
      mint() {
        throw new Error('vault sealed');
      },
      revoke() {},
    };
    const { readTicket, grant, guard, ran } = await setup({ credentials: { provider } });
    await expect(guard.withCapability(await grant(), () => readTicket({ ticketId: '4711' }))).rejects.toMatchObject({
      code: 'credential_unavailable',
    });
    expect(ran).toEqual([]);
  });

  test('a credential provider that returns nothing denies credential_unavailable', async () => {
    const provider = { mint: () => undefined, revoke() {} } as unknown as CredentialProvider;
    const { readTicket, grant, guard, ran } = await setup({ credentials: { provider } });
    await expect(guard.withCapability(await grant(), () => readTicket({ ticketId: '4711' }))).rejects.toMatchObject({
      code: 'credential_unavailable',
    });
    expect(ran).toEqual([]);
  });

  test('a failing credential revoke is recorded but does not change the result', async () => {
    const revoked: string[] = [];
    const provider: CredentialProvider = {
      mint: (r) => ({ id: r.credentialId, token: 'secret-lease', expiresAt: 0, type: 'lease' }),
      revoke(c) {
        revoked.push(c.id);
        throw new Error('revoke failed');
      },
    };
    const { readTicket, grant, guard } = await setup({ credentials: { provider } });
    await expect(guard.withCapability(await grant(), () => readTicket({ ticketId: '4711' }))).resolves.toMatchObject({ id: '4711' });
    expect(revoked).toHaveLength(1);
  });

  test('a policy engine that throws denies policy_error', async () => {
    const { readTicket, grant, guard, ran } = await setup({
      policy: { name: 'broken', evaluate: () => { throw new Error('boom'); } },
    });
    await expect(guard.withCapability(await grant(), () => readTicket({ ticketId: '4711' }))).rejects.toMatchObject({ code: 'policy_error' });
    expect(ran).toEqual([]);
  });

  test('a policy engine that hangs is denied at its deadline', async () => {
    const { readTicket, grant, guard, ran } = await setup({
      policy: { name: 'slow', evaluate: () => new Promise(() => {}) },
      policyTimeoutMs: 20,
    });
    const err = await guard.withCapability(await grant(), () => readTicket({ ticketId: '4711' })).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'policy_error' });
    expect((err as Error).message).toMatch(/did not answer within 20 ms/);
    expect(ran).toEqual([]);
  });

  test('a policy engine that answers nonsense denies policy_error', async () => {
    const { readTicket, grant, guard, ran } = await setup({
      policy: { name: 'odd', evaluate: () => ({ effect: 'maybe' }) as never },
    });
    await expect(guard.withCapability(await grant(), () => readTicket({ ticketId: '4711' }))).rejects.toMatchObject({ code: 'policy_error' });
    expect(ran).toEqual([]);
  });

  test('by default a high-risk tool without an approver is denied approval_denied', async () => {
    const { guard, grant, ran } = await setup();
    const wire = guardTool(
      guard,
      { name: 'email.send', description: 'Send', input: z.object({ to: z.string() }), risk: 'external' },
      async () => { ran.push('sent'); },
    );
    const err = await guard.withCapability(await grant(), () => wire({ to: 'a@example.com' })).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'approval_denied' });
    expect((err as Error).message).toMatch(/no approver/);
    expect(ran).toEqual([]);
  });

  test('an approver that throws denies approval_denied', async () => {
    const { guard, grant, ran } = await setup({ approver: () => { throw new Error('pager down'); } });
    const wire = guardTool(
      guard,
      { name: 'email.send', description: 'Send', input: z.object({ to: z.string() }), risk: 'external' },
      async () => { ran.push('sent'); },
    );
    await expect(guard.withCapability(await grant(), () => wire({ to: 'a@example.com' }))).rejects.toMatchObject({ code: 'approval_denied' });
    expect(ran).toEqual([]);
  });

  test('an approver that never answers is denied approval_timeout', async () => {
    const { guard, grant, ran } = await setup({ approver: () => new Promise(() => {}), approvalTimeoutMs: 20 });
    const wire = guardTool(
      guard,
      { name: 'email.send', description: 'Send', input: z.object({ to: z.string() }), risk: 'external' },
      async () => { ran.push('sent'); },
    );
    await expect(guard.withCapability(await grant(), () => wire({ to: 'a@example.com' }))).rejects.toMatchObject({ code: 'approval_timeout' });
    expect(ran).toEqual([]);
  });

  test('an approver that approves lets the high-risk call run', async () => {
    const { guard, grant, ran } = await setup({ approver: (r) => ({ approved: r.tool === 'email.send', approver: 'alice' }) });
    const wire = guardTool(
      guard,
      { name: 'email.send', description: 'Send', input: z.object({ to: z.string() }), risk: 'external' },
      async () => { ran.push('sent'); },
    );
    await guard.withCapability(await grant(), () => wire({ to: 'a@example.com' }));
    expect(ran).toEqual(['sent']);
  });

  test('an identity verifier that is unreachable denies identity_unavailable', async () => {
    const { readTicket, grant, guard, ran } = await setup({
      identity: { verify: () => Promise.reject(new Error('ECONNREFUSED')) },
    });
    await expect(
      guard.withCapability({ capability: await grant(), identity: 'x.y.z' }, () => readTicket({ ticketId: '4711' })),
    ).rejects.toMatchObject({ code: 'identity_unavailable' });
    expect(ran).toEqual([]);
  });

  test('requireIdentity denies a runtime that presents none', async () => {
    const { readTicket, grant, guard, ran } = await setup({ requireIdentity: true });
    await expect(guard.withCapability(await grant(), () => readTicket({ ticketId: '4711' }))).rejects.toMatchObject({
      code: 'identity_invalid',
    });
    expect(ran).toEqual([]);
  });

  test('a memory store that is full refuses rather than evicting, and the call is denied store_unavailable', async () => {
    const { readTicket, grant, guard, ran } = await setup({ store: createMemoryStore({ maxEntries: 1 }) });
    const cap = await grant();
    await expect(guard.withCapability(cap, () => readTicket({ ticketId: '4711' }))).resolves.toMatchObject({ id: '4711' });
    await expect(guard.withCapability(cap, () => readTicket({ ticketId: '4711' }))).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(ran).toEqual(['tickets.read:4711']);
  });
});

describe('long approvals', () => {
  test('a revocation made while the human decides wins: capability_revoked, nothing runs', async () => {
    const { decodeJwt } = await import('jose');
    let cap = '';
    const s = await setup({
      approver: async () => {
        await s.guard.revokeCapability(decodeJwt(cap).jti!);
        return { approved: true, approver: 'alice' };
      },
    });
    const wire = guardTool(
      s.guard,
      { name: 'email.send', description: 'Send', input: z.object({ to: z.string() }), risk: 'external' },
      async () => { s.ran.push('sent'); },
    );
    cap = await s.grant();
    await expect(s.guard.withCapability(cap, () => wire({ to: 'a@example.com' }))).rejects.toMatchObject({ code: 'capability_revoked' });
    expect(s.ran).toEqual([]);
  });

  test('after a 70 s approval the credential is still accepted downstream, once', async () => {
    const { verifyCallCredential } = await import('../../src/index.js');
    const s = await setup({
      approver: async () => {
        s.clock.advance(70_000);
        return { approved: true, approver: 'alice' };
      },
    });
    const results: string[] = [];
    const wire = guardTool(
      s.guard,
      { name: 'email.send', description: 'Send', input: z.object({ to: z.string() }), risk: 'external' },
      async (_a, ctx) => {
        const opts = { jwks: s.guard.credentialJwks(), issuer: s.guard.credentialIssuer, audience: 'email.send', store: s.guard.store, clock: s.clock };
        await verifyCallCredential(ctx.credential.token, opts);
        results.push('accepted');
        results.push(await verifyCallCredential(ctx.credential.token, opts).then(() => 'accepted', (e: { code: string }) => e.code));
      },
    );
    await s.guard.withCapability(await s.grant(), () => wire({ to: 'a@example.com' }));
    expect(results).toEqual(['accepted', 'replay_detected']);
  });
});
