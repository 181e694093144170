import { expect, test } from 'vitest';
import { verifyCallCredential } from '../src/index.js';
import { setup } from './support/fixtures.js';

test('smoke', async () => {
  const { guard, readTicket, sendEmail, ran, grant, clock } = await setup();
  const cap = await grant();
  const r = await guard.withCapability(cap, () => readTicket({ ticketId: '4711' }));
  expect(r.id).toBe('4711');
  await expect(guard.withCapability(cap, () => readTicket({ ticketId: '4712' }))).rejects.toMatchObject({ code: 'arguments_out_of_scope' });
  const sent = await sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }, { capability: cap });
  await expect(sendEmail({ to: 'a@example.com', subject: 's', body: 'b' }, { capability: cap })).rejects.toMatchObject({ code: 'call_limit_exceeded' });
  await expect(verifyCallCredential(sent.token, { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'email.send', store: guard.store, clock })).rejects.toMatchObject({ code: 'replay_detected' });
  expect(ran).toEqual(['tickets.read:4711', 'email.send:a@example.com']);
});
