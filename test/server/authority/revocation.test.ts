import { z } from 'zod';
import { beforeEach, describe, expect, test } from 'vitest';
import { ToolDeniedError } from '../../../src/errors.js';
import type { AgentKey } from '../../../src/identity/agent-key.js';
import { ADMIN, createAgentKey, createHarness, GUARD_AUDIENCE, guardFor, HELPER, ISSUER, oauthError, SUPPORT, type Harness } from './support.js';
import { guardTool } from '../../../src/index.js';

let h: Harness;
let key: AgentKey;

beforeEach(async () => {
  h = await createHarness();
  key = await createAgentKey('EdDSA', { clock: h.clock });
});

async function grant(bound = true): Promise<string> {
  const res = await h.token(h.form(await h.svid(SUPPORT)), bound ? { DPoP: await h.dpop(key) } : {});
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const post = (path: string, body: string, headers: Record<string, string>) =>
  h.server.fetch(new Request(`${ISSUER}${path}`, { method: 'POST', headers, body }));
const revoke = (token: string, headers: Record<string, string>) =>
  post('/revoke', new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers });

/** Calls tickets.read through a real guard sharing the store; returns "allowed" or the denial code. */
async function use(capability: string): Promise<string> {
  const guard = guardFor(h);
  const read = guardTool(guard, { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }), risk: 'read' }, async () => 'ok');
  const identity = await h.svid(SUPPORT, { aud: GUARD_AUDIENCE });
  return guard.withCapability({ capability, identity, prover: key }, () => read({ ticketId: 'T-1' })).then(
    () => 'allowed',
    (e: unknown) => (e instanceof ToolDeniedError ? e.code : 'other'),
  );
}

describe('POST /revoke (RFC 7009)', () => {
  test("the holder, by its identity token, revokes its capability in the shared store: the guard refuses it", async () => {
    const cap = await grant();
    expect(await use(cap)).toBe('allowed');
    const res = await revoke(cap, { Authorization: `Bearer ${await h.svid(SUPPORT)}` });
    expect(res.status).toBe(200);
    expect(await use(cap)).toBe('capability_revoked');
  });

  test('the holder, by a DPoP proof of its cnf key, revokes its capability', async () => {
    const cap = await grant();
    const res = await revoke(cap, { DPoP: await h.dpop(key, { htu: `${ISSUER}/revoke` }) });
    expect(res.status).toBe(200);
    expect(await use(cap)).toBe('capability_revoked');
  });

  test('an unknown token is answered 200', async () => {
    const res = await revoke('not.a.capability', { Authorization: `Bearer ${await h.svid(SUPPORT)}` });
    expect(res.status).toBe(200);
  });

  test('an expired capability is answered 200', async () => {
    const cap = await grant();
    h.clock.advance('6m');
    const res = await revoke(cap, { Authorization: `Bearer ${await h.svid(SUPPORT)}` });
    expect(res.status).toBe(200);
  });

  test('a caller that proves nothing is invalid_client', async () => {
    const cap = await grant();
    expect((await oauthError(await revoke(cap, {}), 401)).error).toBe('invalid_client');
    expect(await use(cap)).toBe('allowed');
  });

  test("another agent's identity token is invalid_client and revokes nothing", async () => {
    const cap = await grant();
    expect((await oauthError(await revoke(cap, { Authorization: `Bearer ${await h.svid(HELPER)}` }), 401)).error).toBe('invalid_client');
    expect(await use(cap)).toBe('allowed');
  });

  test("a DPoP proof by another key than the capability's is invalid_client", async () => {
    const cap = await grant();
    const other = await createAgentKey('EdDSA', { clock: h.clock });
    expect((await oauthError(await revoke(cap, { DPoP: await h.dpop(other, { htu: `${ISSUER}/revoke` }) }), 401)).error).toBe('invalid_client');
  });
});

const admin = (method: string, path: string, bearer: string | undefined, body?: unknown) =>
  h.server.fetch(
    new Request(`${ISSUER}${path}`, {
      method,
      headers: { ...(bearer === undefined ? {} : { Authorization: `Bearer ${bearer}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );

describe('admin API', () => {
  test('without a bearer token: invalid_token', async () => {
    expect((await oauthError(await admin('GET', '/admin/revocations', undefined), 401)).error).toBe('invalid_token');
  });

  test('with an identity token that does not verify: invalid_token', async () => {
    expect((await oauthError(await admin('GET', '/admin/revocations', await h.svid(ADMIN, { aud: 'elsewhere' })), 401)).error).toBe('invalid_token');
  });

  test('an identity without an admin role: insufficient_scope, and nothing is revoked', async () => {
    const cap = await grant();
    const res = await admin('POST', '/admin/revocations', await h.svid(SUPPORT), { kind: 'agent', id: SUPPORT });
    expect((await oauthError(res, 403)).error).toBe('insufficient_scope');
    expect(await use(cap)).toBe('allowed');
  });

  test('an admin stops an agent: its capability is refused at the guard, new grants are refused until the stop is lifted', async () => {
    const cap = await grant();
    const op = await h.svid(ADMIN);
    const res = await admin('POST', '/admin/revocations', op, { kind: 'agent', id: SUPPORT, reason: 'incident 12' });
    expect(res.status).toBe(201);
    expect(await use(cap)).toBe('capability_revoked');

    const list = (await (await admin('GET', '/admin/revocations', op)).json()) as { revocations: unknown[] };
    expect(list.revocations).toEqual([{ kind: 'agent', id: SUPPORT, reason: 'incident 12', revokedAt: new Date(h.clock()).toISOString(), revokedBy: ADMIN }]);
    expect((await oauthError(await h.token(h.form(await h.svid(SUPPORT))), 403)).error).toBe('access_denied');

    h.clock.advance('1s');
    const lifted = await admin('DELETE', `/admin/revocations/agent/${encodeURIComponent(SUPPORT)}`, op);
    expect(lifted.status).toBe(200);
    const fresh = await grant();
    expect(await use(fresh)).toBe('allowed');
    expect(await use(cap)).toBe('capability_revoked');
  });

  test('an admin stops an intent: new grants for it are access_denied', async () => {
    const op = await h.svid(ADMIN);
    expect((await admin('POST', '/admin/revocations', op, { kind: 'intent', id: 'ticket-4711' })).status).toBe(201);
    expect((await oauthError(await h.token(h.form(await h.svid(SUPPORT))), 403)).error).toBe('access_denied');
  });

  test('an admin revokes one capability by its id; that revocation cannot be lifted', async () => {
    const cap = await grant();
    const op = await h.svid(ADMIN);
    const jti = JSON.parse(Buffer.from(cap.split('.')[1]!, 'base64url').toString()).jti as string;
    expect((await admin('POST', '/admin/revocations', op, { kind: 'capability', id: jti })).status).toBe(201);
    expect(await use(cap)).toBe('capability_revoked');
    expect((await oauthError(await admin('DELETE', `/admin/revocations/capability/${jti}`, op), 400)).error).toBe('invalid_request');
  });

  test('lifting a stop this authority does not hold is not_found', async () => {
    expect((await oauthError(await admin('DELETE', '/admin/revocations/agent/nobody', await h.svid(ADMIN)), 404)).error).toBe('not_found');
  });

  test('a malformed revocation is invalid_request', async () => {
    expect((await oauthError(await admin('POST', '/admin/revocations', await h.svid(ADMIN), { kind: 'tenant', id: 'x' }), 400)).error).toBe('invalid_request');
  });
});
