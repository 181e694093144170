/**
 * Stage 3 fails closed: an identity verifier that breaks, or none at all, denies the call and the
 * tool never runs. Verified identities are cached per token until they expire.
 */
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { ToolDeniedError } from '../../src/errors.js';
import { IdentityError } from '../../src/identity/errors.js';
import type { AgentIdentity, IdentityVerifier } from '../../src/identity/types.js';
import { AGENT, setup } from '../support/fixtures.js';
import { guardTool } from '../../src/index.js';
import { denial } from '../support/outcomes.js';

const ARGS = { ticketId: '4711' };


function countingVerifier(result: () => Promise<AgentIdentity>) {
  let calls = 0;
  const verifier: IdentityVerifier = {
    verify() {
      calls++;
      return result();
    },
  };
  return { verifier, calls: () => calls };
}

describe('identity binding', () => {
  test('a verifier that throws an unexpected error: identity_unavailable, and its message is not quoted', async () => {
    const { verifier } = countingVerifier(() => Promise.reject(new Error('connect ECONNREFUSED secret-idp-password@10.0.0.1')));
    const s = await setup({ identity: verifier });
    const cap = await s.grant();
    const err = await denial(s.guard.withCapability({ capability: cap, identity: 'opaque-token-value' }, () => s.readTicket(ARGS)));
    expect(err.code).toBe('identity_unavailable');
    expect(err.message).not.toContain('secret-idp-password');
    expect(err.message).not.toContain('opaque-token-value');
    expect(s.ran).toEqual([]);
  });

  test('a verifier that refuses the token: its code and reason', async () => {
    const { verifier } = countingVerifier(() => Promise.reject(new IdentityError('identity_invalid', 'the token has expired')));
    const s = await setup({ identity: verifier });
    const cap = await s.grant();
    const err = await denial(s.guard.withCapability({ capability: cap, identity: 't' }, () => s.readTicket(ARGS)));
    expect(err.code).toBe('identity_invalid');
    expect(err.reason).toBe('the token has expired');
    expect(s.ran).toEqual([]);
  });

  test('an identity token presented to a guard without a verifier: identity_invalid', async () => {
    const s = await setup();
    const cap = await s.grant();
    const err = await denial(s.guard.withCapability({ capability: cap, identity: 't' }, () => s.readTicket(ARGS)));
    expect(err.code).toBe('identity_invalid');
    expect(s.ran).toEqual([]);
  });

  test('requireIdentity and no identity presented: identity_invalid', async () => {
    const { verifier, calls } = countingVerifier(async () => ({ id: AGENT, source: 'jwt-svid' }));
    const s = await setup({ identity: verifier, requireIdentity: true });
    const cap = await s.grant();
    const err = await denial(s.guard.withCapability(cap, () => s.readTicket(ARGS)));
    expect(err.code).toBe('identity_invalid');
    expect(calls()).toBe(0);
    expect(s.ran).toEqual([]);
  });

  test('a verified identity is cached per token until it expires, then verified again', async () => {
    let expiresAt = 0;
    const { verifier, calls } = countingVerifier(async () => ({ id: AGENT, source: 'jwt-svid', expiresAt }));
    const s = await setup({ identity: verifier });
    expiresAt = s.clock() + 60_000;
    const cap = await s.grant();
    const binding = { capability: cap, identity: 'svid-1' };
    await s.guard.withCapability(binding, () => s.readTicket(ARGS));
    await s.guard.withCapability(binding, () => s.readTicket(ARGS));
    expect(calls()).toBe(1);
    s.clock.advance(60_000);
    expiresAt = s.clock() + 60_000;
    await s.guard.withCapability(binding, () => s.readTicket(ARGS));
    expect(calls()).toBe(2);
    expect(s.ran).toHaveLength(3);
  });

  test('the tool sees the verified identity, not the asserted one', async () => {
    const { verifier } = countingVerifier(async () => ({ id: AGENT, source: 'jwt-svid', trustDomain: 'example.org' }));
    const s = await setup({ identity: verifier });
    const cap = await s.grant();
    let seen: AgentIdentity | undefined;
    const who = guardTool(
      s.guard,
      { name: 'tickets.read', description: 'Read', input: z.object({ ticketId: z.string() }), risk: 'read' },
      (_args, ctx) => {
        seen = ctx.agent;
        return 'ok';
      },
    );
    await s.guard.withCapability({ capability: cap, identity: 'svid' }, () => who(ARGS));
    expect(seen).toEqual({ id: AGENT, source: 'jwt-svid', trustDomain: 'example.org' });
  });
});
