/**
 * Further attacks on delegation: each pins exactly one outcome, with the tool body never run.
 */
import { describe, expect, test } from 'vitest';
import { ToolDeniedError } from '../../src/index.js';
import { RESEARCHER, setupChain } from '../delegation/chain-fixtures.js';

describe('delegation review', () => {
  test("a short-lived child's calls keep counting against its parent's budget after the child expires", async () => {
    const s = await setupChain();
    const root = await s.root({ 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } }, '10m');
    const child = await s.child(root, s.keys.planner, {
      to: RESEARCHER,
      tools: { 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 2 } },
      ttl: '1m',
    });
    for (let i = 0; i < 2; i++) await s.guard.withCapability(child, () => s.sendEmail({ to: 'a@example.com', body: 'x' }));
    s.ran.length = 0;
    // The child is long gone; the root is still valid but its budget of 2 is already spent.
    s.clock.advance(3 * 60_000);
    const outcome = await s.guard
      .withCapability({ capability: root, prover: s.keys.planner }, () => s.sendEmail({ to: 'a@example.com', body: 'x' }))
      .then(() => 'ALLOWED' as const, (e: unknown) => e);
    expect(s.ran).toEqual([]);
    expect(outcome).toBeInstanceOf(ToolDeniedError);
    expect(outcome).toMatchObject({ code: 'call_limit_exceeded' });
  });
  test('a call budget is still spent while the clock skew the guard allows keeps an expired child usable', async () => {
    const s = await setupChain({ clockSkewSec: 300 });
    const root = await s.root();
    const child = await s.child(root, s.keys.planner, {
      to: RESEARCHER,
      tools: { 'email.send': { args: { to: { eq: 'ops@example.com' } }, maxCalls: 1 } },
      ttl: '1m',
    });
    await s.guard.withCapability(child, () => s.sendEmail({ to: 'ops@example.com', body: 'x' }));
    s.ran.length = 0;
    // Past exp + 60 s, still within the 300 s of skew this guard tolerates.
    s.clock.advance(60_000 + 120_000);
    const outcome = await s.guard
      .withCapability(child, () => s.sendEmail({ to: 'ops@example.com', body: 'x' }))
      .then(() => 'ALLOWED' as const, (e: unknown) => e);
    expect(s.ran).toEqual([]);
    expect(outcome).toBeInstanceOf(ToolDeniedError);
    expect(outcome).toMatchObject({ code: 'call_limit_exceeded' });
  });
});
