import { decodeJwt } from 'jose';
import { z } from 'zod';
import { beforeEach, describe, expect, test } from 'vitest';
import { ToolDeniedError } from '../../../src/errors.js';
import {
  createAgentKey,
  createHarness,
  GUARD_AUDIENCE,
  guardFor,
  ISSUER,
  JWT_TYPE,
  oauthError,
  STRANGER,
  SUPPORT,
  TOKEN_EXCHANGE,
  type Harness,
} from './support.js';
import { guardTool } from '../../../src/index.js';

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});

describe('GET /.well-known/oauth-authorization-server', () => {
  test('publishes the RFC 8414 metadata of this issuer', async () => {
    const res = await h.server.fetch(new Request(`${ISSUER}/.well-known/oauth-authorization-server`));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(await res.json()).toEqual({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/token`,
      jwks_uri: `${ISSUER}/jwks.json`,
      revocation_endpoint: `${ISSUER}/revoke`,
      grant_types_supported: [TOKEN_EXCHANGE],
      authorization_details_types_supported: ['tessera_tool', 'tessera_intent'],
      dpop_signing_alg_values_supported: ['EdDSA', 'ES256'],
      token_endpoint_auth_methods_supported: ['none'],
    });
  });
});

describe('GET /jwks.json', () => {
  test('publishes the current and retired public keys, cached at most 300 s', async () => {
    const first = h.authority.kid;
    await h.authority.rotate();
    const res = await h.server.fetch(new Request(`${ISSUER}/jwks.json`));
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys.map((k) => k.kid)).toEqual([h.authority.kid, first]);
    expect(keys.some((k) => 'd' in k)).toBe(false);
  });

  test('max-age never exceeds the rotation overlap (the authority maxTtl)', async () => {
    const short = await createHarness({ authority: { maxTtl: '2m', defaultTtl: '1m' }, policy: { roles: [{ name: 'r', match: [{ spiffe: SUPPORT }], ceiling: { tools: { 'tickets.read': {} }, maxTtl: '2m' } }] } });
    const res = await short.server.fetch(new Request(`${ISSUER}/jwks.json`));
    expect(res.headers.get('cache-control')).toBe('public, max-age=120');
  });
});

describe('POST /token: granted', () => {
  test('a valid request gets a capability for exactly the verified identity, the audience and the details asked for', async () => {
    const res = await h.token(h.form(await h.svid(SUPPORT)));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ issued_token_type: JWT_TYPE, token_type: 'N_A', expires_in: 300 });
    expect(body.authorization_details).toEqual([
      { type: 'tessera_intent', id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 3 },
    ]);
    const claims = decodeJwt(body.access_token as string);
    expect(claims).toMatchObject({ iss: ISSUER, sub: SUPPORT, aud: GUARD_AUDIENCE, intent: { id: 'ticket-4711' }, tools: { 'tickets.read': { maxCalls: 3 } } });
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(claims.cnf).toBeUndefined();
  });

  test('requested_ttl at the role ceiling is granted as asked', async () => {
    const res = await h.token(h.form(await h.svid(SUPPORT), undefined, { requested_ttl: '900' }));
    expect(res.status).toBe(200);
    const claims = decodeJwt(((await res.json()) as { access_token: string }).access_token);
    expect(claims.exp! - claims.iat!).toBe(900);
  });

  test('with a DPoP proof the capability is bound to its key, and a real guard accepts it only with that key', async () => {
    const key = await createAgentKey('EdDSA', { clock: h.clock });
    const res = await h.token(h.form(await h.svid(SUPPORT)), { DPoP: await h.dpop(key) });
    const body = (await res.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt: key.jkt });

    const guard = guardFor(h);
    const read = guardTool(guard, { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' }, async (a) => a.ticketId);
    const identity = await h.svid(SUPPORT, { aud: GUARD_AUDIENCE });
    await expect(guard.withCapability({ capability: body.access_token, identity, prover: key }, () => read({ ticketId: 'T-1' }))).resolves.toBe('T-1');
    const other = await createAgentKey('EdDSA', { clock: h.clock });
    const denied = await guard.withCapability({ capability: body.access_token, identity, prover: other }, () => read({ ticketId: 'T-1' })).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(ToolDeniedError);
    expect((denied as ToolDeniedError).code).toBe('proof_invalid');
  });
});

const intent = { type: 'tessera_intent', id: 'ticket-4711', purpose: 'Answer ticket 4711' };
const details = (...entries: unknown[]) => JSON.stringify(entries);

describe('POST /token: each malformed request has one error', () => {
  const cases: [string, (h: Harness, svid: string) => Record<string, string>, number, string][] = [
    ['no grant_type', (h, s) => { const f = h.form(s); delete f.grant_type; return f; }, 400, 'invalid_request'],
    ['another grant_type', (h, s) => h.form(s, undefined, { grant_type: 'client_credentials' }), 400, 'unsupported_grant_type'],
    ['no subject_token', (h, s) => { const f = h.form(s); delete f.subject_token; return f; }, 400, 'invalid_request'],
    ['an unknown subject_token_type', (h, s) => h.form(s, undefined, { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 400, 'invalid_request'],
    ['a JWT-SVID labelled as an access token', (h, s) => h.form(s, undefined, { subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }), 400, 'invalid_request'],
    ['a subject_token that is not a JWT', (h) => h.form('not-a-token'), 400, 'invalid_request'],
    ['no audience', (h, s) => { const f = h.form(s); delete f.audience; return f; }, 400, 'invalid_request'],
    ['actor_token without its type', (h, s) => h.form(s, undefined, { actor_token: s }), 400, 'invalid_request'],
    ['an actor_token_type other than jwt', (h, s) => h.form(s, undefined, { actor_token: s, actor_token_type: 'urn:ietf:params:oauth:token-type:access_token' }), 400, 'invalid_request'],
    ['requested_ttl that is not whole seconds', (h, s) => h.form(s, undefined, { requested_ttl: '5m' }), 400, 'invalid_request'],
    ['requested_ttl above the role ceiling', (h, s) => h.form(s, undefined, { requested_ttl: '901' }), 400, 'invalid_request'],
    ['no authorization_details', (h, s) => { const f = h.form(s); delete f.authorization_details; return f; }, 400, 'invalid_authorization_details'],
    ['authorization_details that is not JSON', (h, s) => h.form(s, undefined, { authorization_details: '[{' }), 400, 'invalid_authorization_details'],
    ['authorization_details that is not an array', (h, s) => h.form(s, undefined, { authorization_details: JSON.stringify(intent) }), 400, 'invalid_authorization_details'],
    ['an unknown authorization_details type', (h, s) => h.form(s, undefined, { authorization_details: details(intent, { type: 'payment_initiation', tool: 'tickets.read' }) }), 400, 'invalid_authorization_details'],
    ['a duplicate tool', (h, s) => h.form(s, undefined, { authorization_details: details(intent, { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }, { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 2 }) }), 400, 'invalid_authorization_details'],
    ['two intents', (h, s) => h.form(s, undefined, { authorization_details: details(intent, intent, { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }) }), 400, 'invalid_authorization_details'],
    ['no intent', (h, s) => h.form(s, undefined, { authorization_details: details({ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }) }), 400, 'invalid_authorization_details'],
    ['no tool', (h, s) => h.form(s, undefined, { authorization_details: details(intent) }), 400, 'invalid_authorization_details'],
    ['an entry with an unknown member', (h, s) => h.form(s, undefined, { authorization_details: details(intent, { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1, locations: ['x'] }) }), 400, 'invalid_authorization_details'],
    ['a malformed constraint', (h, s) => h.form(s, [{ type: 'tessera_tool', tool: 'email.send', args: { to: { endsWith: 7 } }, maxCalls: 1 }]), 400, 'invalid_authorization_details'],
    ['a tool outside the ceiling', (h, s) => h.form(s, [{ type: 'tessera_tool', tool: 'db.drop', maxCalls: 1 }]), 400, 'invalid_authorization_details'],
    ['maxCalls above the ceiling', (h, s) => h.form(s, [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 11 }]), 400, 'invalid_authorization_details'],
    ['no maxCalls where the ceiling has one', (h, s) => h.form(s, [{ type: 'tessera_tool', tool: 'tickets.read' }]), 400, 'invalid_authorization_details'],
    ['arguments wider than the ceiling', (h, s) => h.form(s, [{ type: 'tessera_tool', tool: 'email.send', args: { to: { endsWith: '.com' } }, maxCalls: 1 }]), 400, 'invalid_authorization_details'],
    ['a glob-matched tool without the ceiling argument constraint', (h, s) => h.form(s, [{ type: 'tessera_tool', tool: 'tickets.update', maxCalls: 1 }]), 400, 'invalid_authorization_details'],
    ['a tool that needs approval at grant time', (h, s) => h.form(s, [{ type: 'tessera_tool', tool: 'payments.refund' }]), 403, 'access_denied'],
  ];
  test.each(cases)('%s', async (_name, build, status, error) => {
    const res = await h.token(build(h, await h.svid(SUPPORT)));
    expect((await oauthError(res, status)).error).toBe(error);
  });

  test('the ttl refusal names the ceiling and nothing is clamped', async () => {
    const body = await oauthError(await h.token(h.form(await h.svid(SUPPORT), undefined, { requested_ttl: '3600' })), 400);
    expect(body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('ceiling of 900s') as string });
  });

  test('a tool matched by a glob is granted when it narrows that pattern', async () => {
    const res = await h.token(h.form(await h.svid(SUPPORT), [{ type: 'tessera_tool', tool: 'tickets.update', args: { ticketId: { startsWith: 'T-47' } }, maxCalls: 5 }]));
    expect(res.status).toBe(200);
  });

  test('an identity no role matches is access_denied', async () => {
    expect((await oauthError(await h.token(h.form(await h.svid(STRANGER))), 403)).error).toBe('access_denied');
  });

  test.each([
    ['expired', { ttl: -120 }],
    ['for another audience', { aud: 'someone-else' }],
  ] as const)('a subject token %s is invalid_request', async (_n, o) => {
    expect((await oauthError(await h.token(h.form(await h.svid(SUPPORT, o))), 400)).error).toBe('invalid_request');
  });

  test('a parameter given twice is invalid_request', async () => {
    const s = await h.svid(SUPPORT);
    const body = `${new URLSearchParams(h.form(s)).toString()}&audience=other`;
    const res = await h.server.fetch(new Request(`${ISSUER}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }));
    expect((await oauthError(res, 400)).error).toBe('invalid_request');
  });

  test('a JSON body is invalid_request', async () => {
    const res = await h.server.fetch(new Request(`${ISSUER}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(h.form(await h.svid(SUPPORT))) }));
    expect((await oauthError(res, 400)).error).toBe('invalid_request');
  });

  test('an unknown endpoint is not_found', async () => {
    expect((await oauthError(await h.server.fetch(new Request(`${ISSUER}/authorize`)), 404)).error).toBe('not_found');
  });
});
