import { expect, test } from 'vitest';
import { z } from 'zod';
import { AGENT, setup } from '../support/fixtures.js';
import { guardTool } from '../../src/index.js';

test('with 50 concurrent calls against maxCalls: 7, exactly 7 run and 43 are denied call_limit_exceeded', async () => {
  const { guard, authority } = await setup();
  let ran = 0;
  const t = guardTool(guard, { name: 'db.query', description: 'q', input: z.object({ q: z.string() }), risk: 'read' }, async () => {
    await new Promise((r) => setTimeout(r, 1));
    ran++;
  });
  const cap = await authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'db.query': { maxCalls: 7 } } });
  const results = await guard.withCapability(cap, () =>
    Promise.allSettled(Array.from({ length: 50 }, () => t({ q: 'select 1' }))),
  );
  const denied = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code);
  expect(ran).toBe(7);
  expect(denied).toEqual(Array(43).fill('call_limit_exceeded'));
});

test('limits count per capability: a second grant has its own budget', async () => {
  const { guard, authority } = await setup();
  const t = guardTool(guard, { name: 'db.query', description: 'q', input: z.object({ q: z.string() }), risk: 'read' }, () => 'ok');
  const grant = () => authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: 'i', purpose: 'p' }, tools: { 'db.query': { maxCalls: 1 } } });
  const [a, b] = [await grant(), await grant()];
  await expect(t({ q: '1' }, { capability: a })).resolves.toBe('ok');
  await expect(t({ q: '1' }, { capability: a })).rejects.toMatchObject({ code: 'call_limit_exceeded' });
  await expect(t({ q: '1' }, { capability: b })).resolves.toBe('ok');
});

test('revocation by capability, agent and intent stops the next call', async () => {
  const { guard, authority, clock } = await setup();
  const t = guardTool(guard, { name: 'db.query', description: 'q', input: z.object({ q: z.string() }), risk: 'read' }, () => 'ok');
  const grant = (intent = 'i') => authority.grant({ agent: AGENT, audience: 'support-app', intent: { id: intent, purpose: 'p' }, tools: { 'db.query': {} } });
  const a = await grant();
  await t({ q: '1' }, { capability: a });
  const { decodeJwt } = await import('jose');
  await guard.revokeCapability(decodeJwt(a).jti!);
  await expect(t({ q: '1' }, { capability: a })).rejects.toMatchObject({ code: 'capability_revoked' });

  const b = await grant('j');
  await guard.revokeIntent('j');
  await expect(t({ q: '1' }, { capability: b })).rejects.toMatchObject({ code: 'capability_revoked' });

  const c = await grant('k');
  await guard.revokeAgent(AGENT);
  await expect(t({ q: '1' }, { capability: c })).rejects.toMatchObject({ code: 'capability_revoked' });
  // A capability granted after the emergency stop (beyond the 30 s clock skew) works again.
  clock.advance(31_000);
  await expect(t({ q: '1' }, { capability: await grant('k') })).resolves.toBe('ok');
});
