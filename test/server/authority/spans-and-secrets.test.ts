import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { createSpanCapture } from '../../support/otel.js';
import { ADMIN, createAgentKey, createHarness, HELPER, ISSUER, JWT_TYPE, STRANGER, SUPPORT, type Harness } from './support.js';

const capture = createSpanCapture();
afterAll(() => capture.shutdown());
let h: Harness;
beforeEach(async () => {
  capture.reset();
  h = await createHarness({ server: { tracer: capture.tracer, rateLimit: { burst: 100, perMinute: 60 } } });
});

describe('tessera.grant spans', () => {
  test('a grant and a refusal each record one span with agent, intent, tools, outcome and OAuth error', async () => {
    await h.token(h.form(await h.svid(SUPPORT)));
    await h.token(h.form(await h.svid(SUPPORT), [{ type: 'tessera_tool', tool: 'db.drop', maxCalls: 1 }]));
    const spans = (await capture.spans()).filter((s) => s.name === 'tessera.grant');
    expect(spans.map((s) => s.attributes)).toEqual([
      {
        'tessera.intent.id': 'ticket-4711',
        'tessera.grant.tools': ['tickets.read'],
        'tessera.grant.delegated': false,
        'gen_ai.agent.id': SUPPORT,
        'tessera.grant.role': 'support',
        'tessera.grant.dpop_bound': false,
        'tessera.grant.outcome': 'granted',
      },
      {
        'tessera.intent.id': 'ticket-4711',
        'tessera.grant.tools': ['db.drop'],
        'tessera.grant.delegated': false,
        'gen_ai.agent.id': SUPPORT,
        'tessera.grant.outcome': 'refused',
        'tessera.grant.oauth_error': 'invalid_authorization_details',
        'tessera.grant.reason': 'the role "support" may not be granted the tool "db.drop"',
      },
    ]);
  });
});

describe('no submitted token is ever echoed', () => {
  test('in any error body, header or span of the failure cases', async () => {
    const key = await createAgentKey('EdDSA', { clock: h.clock });
    const svid = await h.svid(SUPPORT);
    const expired = await h.svid(SUPPORT, { ttl: -600 });
    const stranger = await h.svid(STRANGER);
    const proof = await h.dpop(key);
    const parent = ((await (await h.token(h.form(svid), { DPoP: proof })).json()) as { access_token: string }).access_token;
    const secrets = [svid, expired, stranger, proof, parent];
    const helper = await h.svid(HELPER);
    secrets.push(helper);

    const responses: Response[] = [
      await h.token(h.form(svid), { DPoP: proof }), // replayed proof
      await h.token(h.form(expired)),
      await h.token(h.form(stranger)),
      await h.token(h.form(svid, undefined, { subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' })),
      await h.token(h.form(svid, undefined, { authorization_details: `[${svid}]` })),
      await h.token(h.form(svid, undefined, { audience: `${svid}${'a'.repeat(600)}` })),
      await h.token(h.form(helper, [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }], { actor_token: parent, actor_token_type: JWT_TYPE })),
      await h.token(h.form(helper, [{ type: 'tessera_tool', tool: 'tickets.read', maxCalls: 1 }], { actor_token: `${parent}x`, actor_token_type: JWT_TYPE })),
      await h.token(h.form(svid), { DPoP: `${proof}.${proof}` }),
      await h.server.fetch(new Request(`${ISSUER}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${helper}` }, body: new URLSearchParams({ token: parent }).toString() })),
      await h.server.fetch(new Request(`${ISSUER}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${expired}` }, body: new URLSearchParams({ token: parent }).toString() })),
      await h.server.fetch(new Request(`${ISSUER}/admin/revocations`, { headers: { Authorization: `Bearer ${svid}` } })),
      await h.server.fetch(new Request(`${ISSUER}/admin/revocations`, { headers: { Authorization: `Bearer ${expired}` } })),
      await h.server.fetch(new Request(`${ISSUER}/admin/revocations`, { method: 'POST', headers: { Authorization: `Bearer ${await h.svid(ADMIN)}`, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'agent', id: SUPPORT, token: svid }) })),
    ];
    const statuses: number[] = [];
    const seen: string[] = [];
    for (const r of responses) {
      statuses.push(r.status);
      seen.push(await r.text());
      r.headers.forEach((v, k) => seen.push(`${k}: ${v}`));
    }
    expect(statuses).toEqual([400, 400, 403, 400, 400, 400, 400, 400, 400, 401, 400, 403, 401, 400]);
    for (const s of await capture.spans()) seen.push(JSON.stringify(s.attributes), JSON.stringify(s.events), s.status.message ?? '');
    const all = seen.join('\n');
    for (const secret of secrets) {
      // The signature segment is what makes a token usable: it must appear nowhere.
      expect(all.includes(secret.split('.')[2]!)).toBe(false);
      expect(all.includes(secret.split('.')[1]!.slice(0, 40))).toBe(false);
    }
  });
});
