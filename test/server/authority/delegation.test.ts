import { decodeJwt } from 'jose';
import { beforeEach, describe, expect, test } from 'vitest';
import type { AgentKey } from '../../../src/identity/agent-key.js';
import { ADMIN, createAgentKey, createHarness, HELPER, ISSUER, JWT_TYPE, oauthError, SUPPORT, type Harness } from './support.js';

let h: Harness;
let parentKey: AgentKey;
let parent: string;

beforeEach(async () => {
  h = await createHarness();
  parentKey = await createAgentKey('EdDSA', { clock: h.clock });
  const res = await h.token(h.form(await h.svid(SUPPORT), [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 5 }], { requested_ttl: '600' }), {
    DPoP: await h.dpop(parentKey),
  });
  parent = ((await res.json()) as { access_token: string }).access_token;
});

const childForm = async (to = HELPER, tools: unknown[] = [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 2 }], extra: Record<string, string> = {}) =>
  h.form(await h.svid(to), tools, { actor_token: parent, actor_token_type: JWT_TYPE, ...extra });

describe('delegation through actor_token', () => {
  test("a key-bound parent's holder, proving its key, gets a child for the new holder's verified identity", async () => {
    const res = await h.token(await childForm(), { DPoP: await h.dpop(parentKey) });
    expect(res.status).toBe(200);
    const child = decodeJwt(((await res.json()) as { access_token: string }).access_token);
    expect(child).toMatchObject({ sub: HELPER, act: { sub: SUPPORT }, tools: { 'tickets.read': { maxCalls: 2 } }, intent: { id: 'ticket-4711' }, cnf: { jkt: parentKey.jkt } });
    // No requested_ttl: the helper role's 5-minute ceiling, below the parent's remaining 10 minutes.
    expect(child.exp! - child.iat!).toBe(300);
  });

  test("without requested_ttl a child lives until its parent expires when that comes before its role's maxTtl", async () => {
    h.clock.advance('8m');
    const res = await h.token(await childForm(), { DPoP: await h.dpop(parentKey) });
    const child = decodeJwt(((await res.json()) as { access_token: string }).access_token);
    expect(child.exp).toBe(decodeJwt(parent).exp);
  });

  test('a copy of a key-bound parent without a DPoP proof is refused at the token endpoint', async () => {
    expect((await oauthError(await h.token(await childForm()), 400)).error).toBe('invalid_request');
  });

  test("a copy of a key-bound parent with the thief's own DPoP key is refused", async () => {
    const thief = await createAgentKey('EdDSA', { clock: h.clock });
    const body = await oauthError(await h.token(await childForm(), { DPoP: await h.dpop(thief) }), 400);
    expect(body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('DPoP proof signed by that key') as string });
  });

  test('a child wider than its parent is invalid_authorization_details', async () => {
    const res = await h.token(await childForm(HELPER, [{ type: 'tessera_tool', tool: 'tickets.read' }]), { DPoP: await h.dpop(parentKey) });
    expect((await oauthError(res, 400)).error).toBe('invalid_authorization_details');
  });

  test("a child within its parent but above the new holder's ceiling is invalid_authorization_details", async () => {
    const res = await h.token(await childForm(HELPER, [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 3 }]), { DPoP: await h.dpop(parentKey) });
    const body = await oauthError(res, 400);
    expect(body).toEqual({ error: 'invalid_authorization_details', error_description: expect.stringContaining("role 'helper'") as string });
  });

  test("a requested_ttl above the new holder's ceiling is invalid_request", async () => {
    const res = await h.token(await childForm(HELPER, undefined, { requested_ttl: '301' }), { DPoP: await h.dpop(parentKey) });
    expect((await oauthError(res, 400)).error).toBe('invalid_request');
  });

  test("a new holder whose role allows no delegated capabilities is invalid_request (depth)", async () => {
    const res = await h.token(await childForm(ADMIN, [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }]), { DPoP: await h.dpop(parentKey) });
    const body = await oauthError(res, 400);
    expect(body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('at most 0 delegations') as string });
  });

  test('a different intent id is invalid_authorization_details', async () => {
    const f = await childForm();
    f.authorization_details = JSON.stringify([{ type: 'tessera_intent', id: 'other-task', purpose: 'x' }, { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }]);
    expect((await oauthError(await h.token(f, { DPoP: await h.dpop(parentKey) }), 400)).error).toBe('invalid_authorization_details');
  });

  test('another audience than the parent is invalid_request', async () => {
    const res = await h.token(await childForm(HELPER, undefined, { audience: 'billing-app' }), { DPoP: await h.dpop(parentKey) });
    expect((await oauthError(res, 400)).error).toBe('invalid_request');
  });

  test('an actor_token this authority did not sign is invalid_request', async () => {
    const forged = await h.svid(SUPPORT);
    const f = h.form(await h.svid(HELPER), [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }], { actor_token: forged, actor_token_type: JWT_TYPE });
    expect((await oauthError(await h.token(f), 400)).error).toBe('invalid_request');
  });

  test('a revoked parent is invalid_request: no child is minted from it', async () => {
    const revoked = await h.server.fetch(
      new Request(`${ISSUER}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${await h.svid(SUPPORT)}` }, body: new URLSearchParams({ token: parent }).toString() }),
    );
    expect(revoked.status).toBe(200);
    const body = await oauthError(await h.token(await childForm(), { DPoP: await h.dpop(parentKey) }), 400);
    expect(body).toEqual({ error: 'invalid_request', error_description: 'the parent capability is revoked' });
  });

  test('a store that cannot answer whether the parent is revoked is temporarily_unavailable', async () => {
    // The server reads revocations through `peek` when the store has it, `reserve` otherwise.
    const lost = () => {
      throw new Error('connection lost');
    };
    h.store.peek = lost;
    h.store.reserve = lost;
    expect((await oauthError(await h.token(await childForm(), { DPoP: await h.dpop(parentKey) }), 503)).error).toBe('temporarily_unavailable');
  });

  test('an expired parent is invalid_request', async () => {
    h.clock.advance('11m');
    const res = await h.token(await childForm(), { DPoP: await h.dpop(parentKey) });
    expect((await oauthError(res, 400)).error).toBe('invalid_request');
  });
});
