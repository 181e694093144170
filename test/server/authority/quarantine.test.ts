/**
 * The authority and tripwire quarantines in the store it shares with the guards: a quarantined
 * agent gets no new grant, administrators list quarantines and lift one, and the record names the
 * administrator the bearer token proves, not a name in the request.
 */
import { z } from 'zod';
import { beforeEach, describe, expect, test } from 'vitest';
import { ToolDeniedError } from '../../../src/errors.js';
import type { AgentKey } from '../../../src/identity/agent-key.js';
import { createGuard, guardTool, type JWKS } from '../../../src/index.js';
import { createJwtSvidVerifier } from '../../../src/identity/jwt-svid.js';
import { ADMIN, createAgentKey, createHarness, GUARD_AUDIENCE, ISSUER, oauthError, SUPPORT, type Harness } from './support.js';

let h: Harness;
let key: AgentKey;

beforeEach(async () => {
  h = await createHarness();
  key = await createAgentKey('EdDSA', { clock: h.clock });
});

async function grant(): Promise<Response> {
  return h.token(h.form(await h.svid(SUPPORT)), { DPoP: await h.dpop(key) });
}
const capability = async (): Promise<string> => ((await (await grant()).json()) as { access_token: string }).access_token;

/** A guard on the shared store with a canary tool, as the tool server runs it. */
function tools() {
  const guard = createGuard({
    audience: GUARD_AUDIENCE,
    trust: { issuer: ISSUER, jwks: async () => (await (await h.server.fetch(new Request(`${ISSUER}/jwks.json`))).json()) as JWKS },
    clock: h.clock,
    identity: createJwtSvidVerifier({ audience: GUARD_AUDIENCE, trustDomains: { 'example.org': h.td.bundle() }, clock: h.clock }),
    requireIdentity: true,
    store: h.store,
    tripwires: { canaryTools: ['admin.export_all'] },
  });
  const tool = (name: string) => guardTool(guard, { name, description: name, input: z.object({ ticketId: z.string() }), risk: 'read' }, async () => 'ok');
  const read = tool('tickets.read');
  const canary = tool('admin.export_all');
  const use = async (cap: string, t = read): Promise<string> => {
    const identity = await h.svid(SUPPORT, { aud: GUARD_AUDIENCE });
    return guard.withCapability({ capability: cap, identity, prover: key }, () => t({ ticketId: 'T-1' })).then(
      () => 'allowed',
      (e: unknown) => (e instanceof ToolDeniedError ? e.code : 'other'),
    );
  };
  return { use, canary };
}

const admin = (method: string, path: string, bearer: string | undefined, body?: unknown) =>
  h.server.fetch(
    new Request(`${ISSUER}${path}`, {
      method,
      headers: { ...(bearer === undefined ? {} : { Authorization: `Bearer ${bearer}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );

describe('tripwire quarantines at the authority', () => {
  test('a quarantined agent is refused new grants (access_denied) until an administrator lifts the quarantine', async () => {
    const { use, canary } = tools();
    const cap = await capability();
    expect(await use(cap, canary)).toBe('capability_revoked');
    expect(await use(cap)).toBe('capability_revoked');
    const refused = await grant();
    expect(await oauthError(refused, 403)).toMatchObject({ error: 'access_denied', error_description: expect.stringContaining('quarantined by a tripwire') });

    const op = await h.svid(ADMIN);
    const listed = (await (await admin('GET', '/admin/quarantines', op)).json()) as { quarantines: { agent: string; tripwire: string }[] };
    expect(listed.quarantines.map((q) => [q.agent, q.tripwire])).toEqual([[SUPPORT, 'canary']]);

    h.clock.advance('1s');
    const lifted = await admin('POST', '/admin/quarantines/lift', op, { agent: SUPPORT, reason: 'incident 12 closed' });
    expect(lifted.status).toBe(200);
    expect(((await lifted.json()) as { lifted: { lifted: unknown } }).lifted.lifted).toEqual({ by: ADMIN, reason: 'incident 12 closed', atMs: h.clock(), stop: 'lifted' });
    expect(await use(cap)).toBe('allowed');
    expect(await use(await capability())).toBe('allowed');
    expect((await oauthError(await admin('POST', '/admin/quarantines/lift', op, { agent: SUPPORT, reason: 'again' }), 404)).error).toBe('not_found');
    const all = (await (await admin('GET', '/admin/quarantines?all=true', op)).json()) as { quarantines: { lifted?: { by: string } }[] };
    expect(all.quarantines.map((q) => q.lifted?.by)).toEqual([ADMIN]);
  });

  test('only administrators list or lift, and a lift needs a reason', async () => {
    const { use, canary } = tools();
    const cap = await capability();
    await use(cap, canary);
    expect((await oauthError(await admin('GET', '/admin/quarantines', undefined), 401)).error).toBe('invalid_token');
    expect((await oauthError(await admin('POST', '/admin/quarantines/lift', await h.svid(SUPPORT), { agent: SUPPORT, reason: 'me' }), 403)).error).toBe('insufficient_scope');
    expect((await oauthError(await admin('POST', '/admin/quarantines/lift', await h.svid(ADMIN), { agent: SUPPORT }), 400)).error).toBe('invalid_request');
    expect((await oauthError(await admin('POST', '/admin/quarantines/lift', await h.svid(ADMIN), { agent: SUPPORT, reason: 'x', by: 'someone' }), 400)).error).toBe('invalid_request');
    expect(await use(cap)).toBe('capability_revoked');
  });
});
