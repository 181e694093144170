/**
 * A capability's validity window is checked again before the credential is minted, on the
 * guard's clock: an approval, a slow policy engine or a slow credential provider can outlast the
 * grant, and then nothing runs. The call credential never outlives the capability. Time is the
 * test's manual clock; each case pins one outcome.
 */
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { ToolDeniedError } from '../../src/errors.js';
import type { Credential, CredentialProvider, CredentialRequest } from '../../src/index.js';
import { setup } from '../support/fixtures.js';
import { RESEARCHER, setupChain } from '../delegation/chain-fixtures.js';
import { guardTool } from '../../src/index.js';
import { outcome } from '../support/outcomes.js';

const FIVE_MIN_MS = 5 * 60_000;
const SKEW_MS = 30_000;


const expOf = (token: string): number => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;

function mailer(s: Awaited<ReturnType<typeof setup>>) {
  return guardTool(
    s.guard,
    { name: 'email.send', description: 'Send', input: z.object({ to: z.string() }), risk: 'external' },
    (_args, ctx) => {
      s.ran.push('sent');
      return ctx.credential;
    },
  );
}

describe('the capability expires while the call waits', () => {
  test('an approval that outlasts exp (plus the skew): capability_expired, nothing runs', async () => {
    const holder: { advance?: (ms: number) => void } = {};
    const s = await setup({
      approver: async () => {
        holder.advance!(FIVE_MIN_MS + SKEW_MS + 1000);
        return { approved: true, approver: 'alice' };
      },
    });
    holder.advance = s.clock.advance;
    const err = (await s.guard.withCapability(await s.grant(), () => mailer(s)({ to: 'a@example.com' })).catch((e: unknown) => e)) as ToolDeniedError;
    expect(err.code).toBe('capability_expired');
    expect(err.reason).toMatch(/expired while the call was being authorized/);
    expect(s.ran).toEqual([]);
  });

  test('an approval that ends inside the grant: allowed, with a credential cut to what is left of it', async () => {
    const holder: { advance?: (ms: number) => void } = {};
    const s = await setup({
      approver: async () => {
        holder.advance!(FIVE_MIN_MS - 12_000);
        return { approved: true, approver: 'alice' };
      },
    });
    holder.advance = s.clock.advance;
    const cap = await s.grant();
    const credential = (await s.guard.withCapability(cap, () => mailer(s)({ to: 'a@example.com' }))) as Credential;
    expect(credential.expiresAt).toBe(expOf(cap) * 1000);
  });

  test('a slow asynchronous policy engine that outlasts exp: capability_expired, nothing runs', async () => {
    const holder: { advance?: (ms: number) => void } = {};
    const s = await setup({
      policy: {
        name: 'slow',
        evaluate: async () => {
          holder.advance!(FIVE_MIN_MS + SKEW_MS);
          return { effect: 'allow' };
        },
      },
    });
    holder.advance = s.clock.advance;
    expect(await outcome(s.guard.withCapability(await s.grant(), () => s.readTicket({ ticketId: '4711' })))).toBe('capability_expired');
    expect(s.ran).toEqual([]);
  });

  test('a credential provider that answers after exp: capability_expired, the credential is revoked, nothing runs', async () => {
    const holder: { advance?: (ms: number) => void } = {};
    const revoked: string[] = [];
    const provider: CredentialProvider = {
      mint: async (r: CredentialRequest) => {
        holder.advance!(FIVE_MIN_MS + SKEW_MS);
        return { id: r.credentialId, token: 'lease', expiresAt: 0, type: 'lease' };
      },
      revoke: (c) => {
        revoked.push(c.id);
      },
    };
    const s = await setup({ credentials: { provider } });
    holder.advance = s.clock.advance;
    expect(await outcome(s.guard.withCapability(await s.grant(), () => s.readTicket({ ticketId: '4711' })))).toBe('capability_expired');
    expect(revoked).toHaveLength(1);
    expect(s.ran).toEqual([]);
  });

  test('a delegated capability whose chain expires during a slow policy: capability_expired, nothing runs', async () => {
    const holder: { advance?: (ms: number) => void } = {};
    const c = await setupChain({
      policy: {
        name: 'slow',
        evaluate: async () => {
          holder.advance!(FIVE_MIN_MS + SKEW_MS);
          return { effect: 'allow' };
        },
      },
    });
    holder.advance = c.clock.advance;
    const { toResearcher } = await c.chain();
    expect((await c.guard.inspect(toResearcher)).chain.agents[1]).toBe(RESEARCHER);
    const call = c.guard.withCapability({ capability: toResearcher, prover: c.keys.researcher }, () => c.readTicket({ ticketId: '4711' }));
    expect(await outcome(call)).toBe('capability_expired');
    expect(c.ran).toEqual([]);
  });
});

describe('the call credential never outlives the capability', () => {
  test('ten seconds left: the credential lives ten seconds, not the default thirty', async () => {
    const requests: CredentialRequest[] = [];
    const provider: CredentialProvider = {
      mint: (r) => {
        requests.push(r);
        return { id: r.credentialId, token: 'lease', expiresAt: 0, type: 'lease' };
      },
      revoke: () => {},
    };
    const s = await setup({ credentials: { provider } });
    const cap = await s.grant();
    s.clock.advance(FIVE_MIN_MS - 10_000);
    await s.guard.withCapability(cap, () => s.readTicket({ ticketId: '4711' }));
    expect(requests.map((r) => r.ttlSec)).toEqual([10]);
  });

  test('the built-in credential expires exactly with the capability', async () => {
    const s = await setup();
    const cap = await s.grant();
    s.clock.advance(FIVE_MIN_MS - 7_000);
    const credential = (await s.guard.withCapability(cap, () =>
      guardTool(s.guard, { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }) }, (_a, ctx) => ctx.credential)({
        ticketId: '4711',
      }),
    )) as Credential;
    expect(credential.expiresAt).toBe(expOf(cap) * 1000);
  });

  test('less than a second left: capability_expired, no credential is minted', async () => {
    const s = await setup();
    const cap = await s.grant();
    s.clock.advance(FIVE_MIN_MS - 500);
    expect(await outcome(s.guard.withCapability(cap, () => s.readTicket({ ticketId: '4711' })))).toBe('capability_expired');
    expect(s.ran).toEqual([]);
  });

  test('after exp but inside the clock skew: the capability still verifies, but the call is capability_expired', async () => {
    const s = await setup();
    const cap = await s.grant();
    s.clock.advance(FIVE_MIN_MS + 10_000);
    await expect(s.guard.inspect(cap)).resolves.toBeDefined();
    expect(await outcome(s.guard.withCapability(cap, () => s.readTicket({ ticketId: '4711' })))).toBe('capability_expired');
    expect(s.ran).toEqual([]);
  });
});
