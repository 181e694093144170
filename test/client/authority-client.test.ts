/**
 * The authority client against a real authority server on loopback: what it sends, what it gets
 * back, how refusals surface, and that a guard trusting the authority by issuer URL accepts
 * what it obtained.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { z } from 'zod';
import { AuthorityRequestError, delegateRemote, requestCapability } from '../../src/client/authority-client.js';
import { createAgentKey, createGuard, ToolDeniedError, guardTool } from '../../src/index.js';
import { GUARD_AUDIENCE, HELPER, INTENT, startAuthority, SUPPORT, type LiveAuthority } from './support.js';

let live: LiveAuthority;
beforeEach(async () => {
  live = await startAuthority();
});
afterEach(async () => {
  await live.close();
});

const ask = async (extra: Partial<Parameters<typeof requestCapability>[0]> = {}) =>
  requestCapability({
    authority: live.issuer,
    identityToken: await live.svid(SUPPORT),
    audience: GUARD_AUDIENCE,
    intent: INTENT,
    tools: { 'tickets.read': { maxCalls: 3 } },
    ...extra,
  });

const refusal = (p: Promise<unknown>): Promise<AuthorityRequestError> =>
  p.then(
    () => {
      throw new Error('expected the authority to refuse');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(AuthorityRequestError);
      return e as AuthorityRequestError;
    },
  );

function guarded() {
  const guard = createGuard({ audience: GUARD_AUDIENCE, trust: { issuer: live.issuer } });
  const ran: string[] = [];
  const read = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({ id: z.string() }), risk: 'read' }, async ({ id }) => {
    ran.push(id);
    return id;
  });
  return { guard, read, ran };
}

describe('requestCapability', () => {
  test('a plain grant: N_A, the requested tools and intent, expiresAt = exp; a guard trusting the issuer URL runs the call', async () => {
    const handle = await ask({ ttl: '10m' });
    const claims = decodeJwt(handle.capability);
    expect(handle.tokenType).toBe('N_A');
    expect(claims).toMatchObject({ iss: live.issuer, sub: SUPPORT, aud: GUARD_AUDIENCE, intent: INTENT, tools: { 'tickets.read': { maxCalls: 3 } } });
    expect(claims.cnf).toBeUndefined();
    expect(claims.exp! - claims.iat!).toBe(600);
    expect(handle.expiresAt.getTime()).toBe(claims.exp! * 1000);
    expect(handle.authorizationDetails).toEqual([
      { type: 'tessera_intent', ...INTENT },
      { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 3 },
    ]);
    const { guard, read, ran } = guarded();
    await expect(guard.withCapability(handle.capability, () => read({ id: 'T-1' }))).resolves.toBe('T-1');
    expect(ran).toEqual(['T-1']);
  });

  test('a retrieval bound travels to the authority and back into the capability', async () => {
    const retrieval = { maxRecords: 50, labels: ['public'], perIntent: { maxBytes: 10_000 } };
    const handle = await ask({ tools: { 'tickets.read': { maxCalls: 3, retrieval } } });
    expect(decodeJwt(handle.capability).tools).toEqual({ 'tickets.read': { maxCalls: 3, retrieval } });
    expect(handle.authorizationDetails).toEqual([{ type: 'tessera_intent', ...INTENT }, { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 3, retrieval }]);
  });

  test('with an Ed25519 agent key the capability is DPoP-bound to it; the guard then needs the key to call', async () => {
    const key = await createAgentKey();
    const handle = await ask({ key });
    expect(handle.tokenType).toBe('DPoP');
    expect(decodeJwt(handle.capability).cnf).toEqual({ jkt: key.jkt });
    const { guard, read, ran } = guarded();
    const stolen = await guard.withCapability(handle.capability, () => read({ id: 'T-1' })).catch((e: unknown) => e);
    expect(stolen).toMatchObject({ code: 'proof_invalid' });
    await expect(guard.withCapability({ capability: handle.capability, prover: key }, () => read({ id: 'T-2' }))).resolves.toBe('T-2');
    expect(ran).toEqual(['T-2']);
  });

  test('an ES256 agent key binds the same way', async () => {
    const key = await createAgentKey('ES256');
    const handle = await ask({ key });
    expect(decodeJwt(handle.capability).cnf).toEqual({ jkt: key.jkt });
  });

  test('a tool outside the role ceiling is refused at the token endpoint: invalid_authorization_details, no token in the error', async () => {
    const identityToken = await live.svid(SUPPORT);
    const err = await refusal(ask({ identityToken, tools: { 'payments.refund': {} } }));
    expect(err.code).toBe('invalid_authorization_details');
    expect(err.status).toBe(400);
    expect(err.description).toContain('payments.refund');
    const everything = `${err.message} ${inspect(err, { depth: 10, showHidden: true })} ${JSON.stringify(err)}`;
    expect(everything).not.toContain(identityToken);
    expect(err.cause).toBeUndefined();
  });

  test('a ttl above the ceiling is refused (invalid_request naming the ceiling), not shortened', async () => {
    const err = await refusal(ask({ ttl: '16m' }));
    expect(err.code).toBe('invalid_request');
    expect(err.description).toContain('900s');
  });

  test('an identity token the authority does not accept is invalid_request', async () => {
    const other = await startAuthority();
    try {
      const err = await refusal(ask({ identityToken: await other.svid(SUPPORT) }));
      expect(err.code).toBe('invalid_request');
    } finally {
      await other.close();
    }
  });

  test('rate limited: slow_down with the Retry-After seconds', async () => {
    await live.close();
    live = await startAuthority({ server: { rateLimit: { burst: 1, perMinute: 1 } } });
    await ask();
    const err = await refusal(ask());
    expect({ code: err.code, status: err.status }).toEqual({ code: 'slow_down', status: 429 });
    expect(err.retryAfterSec).toBeGreaterThan(0);
  });

  test('refresh() asks again with a fresh identity token and replaces the capability', async () => {
    let asked = 0;
    const handle = await ask({
      identityToken: async () => {
        asked += 1;
        return live.svid(SUPPORT);
      },
    });
    const first = handle.capability;
    const second = await handle.refresh();
    expect(second).not.toBe(first);
    expect(handle.capability).toBe(second);
    expect(asked).toBe(2);
  });

  test('refreshBeforeMs refreshes on its own before expiry; close() stops it', async () => {
    const handle = await ask({ ttl: 60, refreshBeforeMs: 59_800 });
    const first = handle.capability;
    await vi.waitFor(() => expect(handle.capability).not.toBe(first), { timeout: 5_000, interval: 50 });
    handle.close();
    const after = handle.capability;
    await new Promise((r) => setTimeout(r, 500));
    expect(handle.capability).toBe(after);
  });

  test('a failed automatic refresh is reported to onRefreshError and the current capability stays', async () => {
    let asked = 0;
    const errors: AuthorityRequestError[] = [];
    const handle = await ask({
      ttl: 60,
      refreshBeforeMs: 59_800,
      onRefreshError: (e) => errors.push(e),
      identityToken: async () => (++asked === 1 ? live.svid(SUPPORT) : live.svid('spiffe://example.org/other/stranger')),
    });
    const first = handle.capability;
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 5_000, interval: 50 });
    expect(errors[0]).toBeInstanceOf(AuthorityRequestError);
    expect(errors[0]!.code).toBe('access_denied');
    expect(handle.capability).toBe(first);
    // No further automatic attempt: the next one is the caller's refresh().
    await new Promise((r) => setTimeout(r, 500));
    expect({ asked, errors: errors.length }).toEqual({ asked: 2, errors: 1 });
    handle.close();
  });

  test('an authority that demands a DPoP nonce (RFC 9449 §8) gets one retry carrying it', async () => {
    await live.close();
    const nonces: (string | undefined)[] = [];
    live = await startAuthority({
      front: async (request, next) => {
        if (!request.url.endsWith('/token')) return next(request);
        const proof = request.headers.get('dpop');
        const nonce = proof === null ? undefined : (decodeJwt(proof).nonce as string | undefined);
        nonces.push(nonce);
        if (nonce !== 'n-1') {
          return new Response(JSON.stringify({ error: 'use_dpop_nonce', error_description: 'use the nonce' }), {
            status: 400,
            headers: { 'content-type': 'application/json', 'DPoP-Nonce': 'n-1' },
          });
        }
        return next(request);
      },
    });
    const key = await createAgentKey();
    const handle = await ask({ key });
    expect(handle.tokenType).toBe('DPoP');
    expect(nonces).toEqual([undefined, 'n-1']);
  });

  test('with a key, a capability the authority did not bind to it is refused: invalid_response', async () => {
    await live.close();
    live = await startAuthority({
      front: async (request, next) => {
        const headers = new Headers(request.headers);
        headers.delete('dpop');
        return next(new Request(request.url, { method: request.method, headers, body: request.method === 'POST' ? await request.text() : null }));
      },
    });
    const err = await refusal(ask({ key: await createAgentKey() }));
    expect(err.code).toBe('invalid_response');
  });

  test('a token endpoint answer that is not a conforming OAuth response is invalid_response', async () => {
    await live.close();
    live = await startAuthority({
      front: async (request, next) =>
        request.url.endsWith('/token') ? new Response(JSON.stringify({ hello: 'world' }), { status: 200, headers: { 'content-type': 'application/json' } }) : next(request),
    });
    const err = await refusal(ask());
    expect(err).toMatchObject({ code: 'invalid_response', status: undefined });
  });

  test('an authority that does not answer within timeoutMs: authority_unreachable', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const err = await refusal(ask({ authority: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 200 }));
      expect(err.code).toBe('authority_unreachable');
      expect(err.description).toContain('deadline');
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  test('metadata naming another issuer is refused before any token is sent', async () => {
    const before = live.hits.length;
    const err = await refusal(ask({ authority: `${live.issuer.replace('127.0.0.1', 'localhost')}` }));
    expect(err.code).toBe('invalid_response');
    expect(live.hits.slice(before)).toEqual(['/.well-known/oauth-authorization-server']);
  });

  test('misuse of options throws at the call, naming the option', async () => {
    const base = { authority: live.issuer, identityToken: 'x.y.z', audience: GUARD_AUDIENCE, intent: INTENT, tools: { 'tickets.read': {} } };
    await expect(requestCapability({ ...base, authority: 'http://authz.example.com' })).rejects.toThrow(
      new TypeError('requestCapability: authority must use https (http only on 127.0.0.1 or localhost)'),
    );
    await expect(requestCapability({ ...base, refreshBeforMs: 1 } as never)).rejects.toThrow(/refreshBeforMs.*did you mean "refreshBeforeMs"/);
    await expect(requestCapability({ ...base, key: { jkt: 'x' } } as never)).rejects.toThrow(TypeError);
  });
});

describe('delegateRemote', () => {
  test("the key-bound parent's holder gets a narrower child for the helper's verified identity", async () => {
    const key = await createAgentKey();
    const parent = await ask({ key, tools: { 'tickets.read': { maxCalls: 5 } } });
    const child = await delegateRemote({ authority: live.issuer, parent, key, childIdentityToken: await live.svid(HELPER), tools: { 'tickets.read': { maxCalls: 2 } } });
    expect(decodeJwt(child.capability)).toMatchObject({ sub: HELPER, act: { sub: SUPPORT }, aud: GUARD_AUDIENCE, intent: INTENT, tools: { 'tickets.read': { maxCalls: 2 } } });
    expect(child.tokenType).toBe('DPoP');
  });

  test('without the parent key the authority refuses a copy of a key-bound parent: invalid_request', async () => {
    const key = await createAgentKey();
    const parent = await ask({ key });
    const err = await refusal(delegateRemote({ authority: live.issuer, parent: parent.capability, childIdentityToken: await live.svid(HELPER), tools: { 'tickets.read': { maxCalls: 1 } } }));
    expect(err.code).toBe('invalid_request');
    expect(`${err.message} ${inspect(err)}`).not.toContain(parent.capability);
  });

  test("a child above the new holder's ceiling is invalid_authorization_details, not clamped", async () => {
    const parent = await ask({ tools: { 'tickets.read': { maxCalls: 5 } } });
    const err = await refusal(delegateRemote({ authority: live.issuer, parent, childIdentityToken: await live.svid(HELPER), tools: { 'tickets.read': { maxCalls: 3 } } }));
    expect(err.code).toBe('invalid_authorization_details');
  });
});

test('a denial from the guard for an unrelated reason is still a ToolDeniedError (the client does not wrap guard errors)', async () => {
  const handle = await ask();
  const { guard, read } = guarded();
  const err = await guard.withCapability(handle.capability, () => read({ id: 1 } as never)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ToolDeniedError);
  expect(err).toMatchObject({ code: 'arguments_invalid' });
});
