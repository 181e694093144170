import { describe, expect, test } from 'vitest';
import { type PolicyEngine } from '../../src/index.js';
import { setup } from '../support/fixtures.js';

const SECRET = 'sk-live-0123456789abcdef';

describe('a failing policy engine denies (fail closed)', () => {
  test('an engine that throws is policy_error, the tool never runs, and its message stays out', async () => {
    const throwing: PolicyEngine = {
      name: 'broken',
      evaluate() {
        throw new Error(`cannot reach policy server with key ${SECRET}`);
      },
    };
    const { readTicket, grant, ran } = await setup({ policy: throwing });
    const err = await readTicket({ ticketId: '4711' }, { capability: await grant() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'policy_error' });
    expect(JSON.stringify(err)).not.toContain(SECRET);
    expect(String((err as Error).message)).not.toContain(SECRET);
    expect(ran).toEqual([]);
  });

  test('an engine that rejects is policy_error', async () => {
    const rejecting: PolicyEngine = { name: 'rejecting', evaluate: () => Promise.reject(new Error('boom')) };
    const { readTicket, grant, ran } = await setup({ policy: rejecting });
    await expect(readTicket({ ticketId: '4711' }, { capability: await grant() })).rejects.toMatchObject({ code: 'policy_error' });
    expect(ran).toEqual([]);
  });

  test('an engine that hangs is denied at its deadline', async () => {
    let settled = false;
    const hanging: PolicyEngine = {
      name: 'hanging',
      evaluate: () =>
        new Promise((resolve) => {
          void resolve;
        }).finally(() => {
          settled = true;
        }) as never,
    };
    const { readTicket, grant, ran } = await setup({ policy: hanging, policyTimeoutMs: 40 });
    const cap = await grant();
    const started = performance.now();
    const err = await readTicket({ ticketId: '4711' }, { capability: cap }).catch((e: unknown) => e);
    const waited = performance.now() - started;
    expect(err).toMatchObject({ code: 'policy_error', reason: 'policy engine "hanging" did not answer within 40 ms; the call is denied (fail closed)' });
    expect(waited).toBeGreaterThanOrEqual(35);
    expect(waited).toBeLessThan(2000);
    expect(settled).toBe(false);
    expect(ran).toEqual([]);
  });

  test('a foreign thenable that never settles gets the deadline too', async () => {
    const thenable: PolicyEngine = { name: 'thenable', evaluate: () => ({ then() {} }) as never };
    const { readTicket, grant, ran } = await setup({ policy: thenable, policyTimeoutMs: 30 });
    await expect(readTicket({ ticketId: '4711' }, { capability: await grant() })).rejects.toMatchObject({ code: 'policy_error' });
    expect(ran).toEqual([]);
  });

  test('an engine that answers nonsense is policy_error', async () => {
    const nonsense: PolicyEngine = { name: 'nonsense', evaluate: () => ({ effect: 'maybe' }) as never };
    const { readTicket, grant, ran } = await setup({ policy: nonsense });
    await expect(readTicket({ ticketId: '4711' }, { capability: await grant() })).rejects.toMatchObject({ code: 'policy_error' });
    expect(ran).toEqual([]);
  });

  test('an error in a later engine denies even when an earlier one allowed', async () => {
    const allow: PolicyEngine = { name: 'allow', evaluate: () => ({ effect: 'allow', policyIds: ['ok'] }) };
    const broken: PolicyEngine = { name: 'broken', evaluate: () => { throw new Error('x'); } };
    const { readTicket, grant, ran } = await setup({ policy: [allow, broken] });
    await expect(readTicket({ ticketId: '4711' }, { capability: await grant() })).rejects.toMatchObject({ code: 'policy_error' });
    expect(ran).toEqual([]);
  });
});
