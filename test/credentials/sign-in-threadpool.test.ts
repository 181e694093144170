/**
 * `credentials.signIn: 'threadpool'`: call credentials signed on libuv's thread pool are the same
 * credentials, accepted once downstream; a pool that does not answer in time denies the call.
 */
import { generateKeyPairSync, pbkdf2 } from 'node:crypto';
import { inspect } from 'node:util';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createSignedCredentials } from '../../src/credentials/call-credential.js';
import type { CredentialRequest } from '../../src/credentials/types.js';
import { createGuard, createMemoryStore, hashArguments, verifyCallCredential, type Guard, guardTool } from '../../src/index.js';
import { AGENT, ISSUER, setup } from '../support/fixtures.js';

const request = (credentialId: string): CredentialRequest => ({
  credentialId,
  tool: 'files.read',
  callId: `call-${credentialId}`,
  argsHash: hashArguments({ path: `/${credentialId}` }),
  agent: AGENT,
  intentId: 'i-1',
  capabilityId: 'cap-1',
  audience: 'files-api',
  ttlSec: 30,
  signal: new AbortController().signal,
});

async function filesTool(guard: Guard, clock: () => number) {
  const seen: { token: string; downstream: unknown }[] = [];
  const read = guardTool(
    guard,
    { name: 'files.read', description: 'Read a file', input: z.object({ path: z.string() }), risk: 'read', credential: { audience: 'files-api' } },
    async (args, ctx) => {
      const downstream = await verifyCallCredential(ctx.credential.token, {
        jwks: guard.credentialJwks(),
        issuer: guard.credentialIssuer,
        audience: 'files-api',
        store: guard.store,
        tool: 'files.read',
        argsHash: hashArguments(args),
        clock,
      }).catch((e: { code: string }) => e.code);
      seen.push({ token: ctx.credential.token, downstream });
      return args.path;
    },
  );
  return { read, seen };
}

describe("signIn: 'threadpool'", () => {
  test('the credential is the same call credential: EdDSA, bound to the call, accepted once, revoked after', async () => {
    const { guard, authority, clock } = await setup({ credentials: { signIn: 'threadpool' } });
    const cap = await authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i-9', purpose: 'p' }, tools: { 'files.read': {} } });
    const { read, seen } = await filesTool(guard, clock);
    await expect(guard.withCapability(cap, () => read({ path: '/a' }))).resolves.toBe('/a');
    const [{ token, downstream }] = seen as [{ token: string; downstream: unknown }];
    expect(downstream).toMatchObject({ aud: 'files-api', sub: AGENT, tool: 'files.read', args_sha256: hashArguments({ path: '/a' }), intent_id: 'i-9' });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'EdDSA', typ: 'tessera-call+jwt' });
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(30);
    await expect(
      verifyCallCredential(token, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'files-api', store: guard.store, clock }),
    ).rejects.toMatchObject({ code: 'replay_detected' });
  });

  test('64 calls in flight each get their own credential, bound to their own arguments', async () => {
    const { guard, authority, clock } = await setup({ credentials: { signIn: 'threadpool' } });
    const cap = await authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'files.read': {} } });
    const { read, seen } = await filesTool(guard, clock);
    const paths = Array.from({ length: 64 }, (_, i) => `/file-${i}`);
    await expect(guard.withCapability(cap, () => Promise.all(paths.map((path) => read({ path }))))).resolves.toEqual(paths);
    expect(new Set(seen.map((s) => s.token)).size).toBe(64);
    for (const s of seen) {
      expect(s.downstream).toMatchObject({ tool: 'files.read' });
      expect((s.downstream as { args_sha256: string }).args_sha256).toBe(decodeJwt(s.token).args_sha256);
    }
    expect(new Set(seen.map((s) => decodeJwt(s.token).args_sha256)).size).toBe(64);
  });

  test('a P-256 signing key signs ES256 credentials that verify downstream', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { guard, authority, clock } = await setup({ credentials: { signIn: 'threadpool', signingKey: privateKey } });
    const cap = await authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'files.read': {} } });
    const { read, seen } = await filesTool(guard, clock);
    await guard.withCapability(cap, () => read({ path: '/a' }));
    expect(decodeProtectedHeader(seen[0]!.token).alg).toBe('ES256');
    expect(seen[0]!.downstream).toMatchObject({ tool: 'files.read', sub: AGENT });
  });

  test('a thread pool that does not answer within the deadline: the mint is refused credential_unavailable, with no token in the error', async () => {
    const store = createMemoryStore();
    const provider = createSignedCredentials({ issuer: ISSUER, store, clock: Date.now, signIn: 'threadpool', signDeadlineMs: 100 });
    // Occupy every thread of the pool for far longer than the deadline.
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const blockers = Array.from(
      { length: threads },
      () => new Promise((resolve) => pbkdf2('p', 's', 500_000, 64, 'sha512', resolve)),
    );
    const t0 = performance.now();
    const minting = Promise.resolve(provider.mint(request('cred-1')));
    const err = await minting.then(
      () => undefined,
      (e: unknown) => e,
    );
    const waited = performance.now() - t0;
    expect(err).toMatchObject({ code: 'credential_unavailable' });
    expect((err as Error).message).toMatch(/not signed within 100 ms/);
    expect(inspect(err, { depth: 5, showHidden: true })).not.toMatch(/eyJ/);
    expect(waited).toBeGreaterThanOrEqual(100);
    await Promise.all(blockers);
  });

  test('a call whose signature does not come back in time is denied and the tool never runs', async () => {
    // The guard's own deadline is 5 s; the provider with a short one stands in through `provider`.
    const store = createMemoryStore();
    const provider = createSignedCredentials({ issuer: ISSUER, store, clock: Date.now, signIn: 'threadpool', signDeadlineMs: 100 });
    const { guard, grant, ran } = await setup({ store, credentials: { provider } });
    const read = guardTool(guard, { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read' }, async () => {
      ran.push('ran');
    });
    const cap = await grant();
    // A first call verifies the capability (jose verifies on the same pool) and caches it.
    await guard.withCapability(cap, () => read({ ticketId: '4711' }));
    ran.length = 0;
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const blockers = Array.from({ length: threads }, () => new Promise((resolve) => pbkdf2('p', 's', 500_000, 64, 'sha512', resolve)));
    await expect(guard.withCapability(cap, () => read({ ticketId: '4711' }))).rejects.toMatchObject({ code: 'credential_unavailable' });
    expect(ran).toEqual([]);
    await Promise.all(blockers);
  });
});

describe('the signIn option', () => {
  const trust = { issuer: ISSUER, jwks: { keys: [] } };
  test.each([['gpu'], [''], [1], [null], ['Threadpool']])('signIn %o is refused with a TypeError naming the option', (signIn) => {
    expect(() => createGuard({ audience: 'a', trust, credentials: { signIn: signIn as 'main' } })).toThrow(TypeError);
    expect(() => createGuard({ audience: 'a', trust, credentials: { signIn: signIn as 'main' } })).toThrow(/credentials\.signIn/);
  });

  test('signIn with a custom provider is refused: the provider signs its own', () => {
    const provider = { mint: () => ({ id: 'x', token: 't', expiresAt: 0, type: 'x' }), revoke: () => undefined };
    expect(() => createGuard({ audience: 'a', trust, credentials: { provider, signIn: 'threadpool' } })).toThrow(/credentials\.signIn/);
  });

  test("'main' signs synchronously: mint returns the credential itself, not a promise", () => {
    const provider = createSignedCredentials({ issuer: ISSUER, store: createMemoryStore(), clock: Date.now });
    expect(provider.mint(request('c'))).not.toBeInstanceOf(Promise);
    const pooled = createSignedCredentials({ issuer: ISSUER, store: createMemoryStore(), clock: Date.now, signIn: 'threadpool' });
    const minted = pooled.mint(request('c'));
    expect(minted).toBeInstanceOf(Promise);
    return minted;
  });

  test.each([[0], [-1], [Number.NaN]])('signDeadlineMs %o is refused with a RangeError', (signDeadlineMs) => {
    expect(() => createSignedCredentials({ issuer: ISSUER, store: createMemoryStore(), clock: Date.now, signIn: 'threadpool', signDeadlineMs })).toThrow(
      /signDeadlineMs/,
    );
  });
});
