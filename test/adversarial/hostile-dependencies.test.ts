/**
 * Dependencies the guard does not own (identity verifiers, trust bundle sources, issuer key
 * functions, provers, credential providers, stores) may hang or throw. Each is given a deadline;
 * each failure pins exactly one denial code, the call settles, and the tool's body never runs.
 */
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import { z } from 'zod';
import { ToolDeniedError } from '../../src/errors.js';
import { createAgentKey } from '../../src/identity/agent-key.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { createMemoryStore, type Credential, type CredentialProvider, type CredentialRequest, type TesseraStore, guardTool } from '../../src/index.js';
import { ATTR } from '../../src/telemetry/attributes.js';
import { createSpanCapture } from '../../src/testing/span-capture.js';
import { AGENT, AUDIENCE, ISSUER, setup } from '../support/fixtures.js';
import { createTestTrustDomain } from '../identity/trust-domain.js';
import { denial, outcome } from '../support/outcomes.js';

const HANG = (): Promise<never> => new Promise<never>(() => {});
const SHORT = 25;
const ARGS = { ticketId: '4711' };

/** `allowed`, or the denial code; anything else fails the test. */


function storeWith(overrides: Partial<TesseraStore>): TesseraStore {
  const base = createMemoryStore();
  return {
    reserve: (r) => base.reserve(r),
    revoke: (k, at, ttl) => base.revoke(k, at, ttl),
    consumeOnce: (k, ttl) => base.consumeOnce(k, ttl),
    consumeCredential: (id) => base.consumeCredential(id),
    revokeCredential: (id, ttl) => base.revokeCredential(id, ttl),
    ...overrides,
  };
}

const spans = createSpanCapture();
afterAll(() => spans.shutdown());
afterEach(() => {
  spans.reset();
  vi.restoreAllMocks();
});

describe('a custom identity verifier', () => {
  test('that never answers: identity_unavailable at timeouts.identityMs, and its signal is aborted', async () => {
    let seen: AbortSignal | undefined;
    const s = await setup({
      identity: {
        verify: (_token, options) => {
          seen = options?.signal;
          return HANG();
        },
      },
      timeouts: { identityMs: SHORT },
    });
    const err = await denial(s.guard.withCapability({ capability: await s.grant(), identity: 'a.b.c' }, () => s.readTicket(ARGS)));
    expect(err.code).toBe('identity_unavailable');
    expect(err.reason).toContain(`did not answer within ${SHORT} ms`);
    expect(seen?.aborted).toBe(true);
    expect(s.ran).toEqual([]);
  });

  test('that throws synchronously: identity_unavailable', async () => {
    const s = await setup({
      identity: {
        verify: () => {
          throw new Error('idp exploded with secret s3cr3t');
        },
      },
    });
    const err = await denial(s.guard.withCapability({ capability: await s.grant(), identity: 'a.b.c' }, () => s.readTicket(ARGS)));
    expect(err.code).toBe('identity_unavailable');
    expect(err.message).not.toContain('s3cr3t');
    expect(s.ran).toEqual([]);
  });

  test('that answers no identity at all: identity_unavailable', async () => {
    const s = await setup({ identity: { verify: async () => undefined as never } });
    expect(await outcome(s.guard.withCapability({ capability: await s.grant(), identity: 'a.b.c' }, () => s.readTicket(ARGS)))).toBe(
      'identity_unavailable',
    );
    expect(s.ran).toEqual([]);
  });
});

describe('a JWT-SVID trust bundle given as a function', () => {
  async function svidSetup(source: () => unknown, bundle: { timeoutMs: number; cooldownSec?: number }, identityMs = 10_000) {
    // The verifier, the trust domain and the guard share the guard's clock.
    const shared: { clock?: () => number } = {};
    const clock = (): number => shared.clock!();
    const td = await createTestTrustDomain('example.org', { clock, audience: AUDIENCE });
    const verifier = createJwtSvidVerifier({
      audience: AUDIENCE,
      trustDomains: { 'example.org': source as never },
      clock,
      timeoutMs: bundle.timeoutMs,
      cooldownSec: bundle.cooldownSec ?? 30,
    });
    const s = await setup({ identity: verifier, timeouts: { identityMs } });
    shared.clock = s.clock;
    const call = async () => s.guard.withCapability({ capability: await s.grant(), identity: await td.svid(AGENT) }, () => s.readTicket(ARGS));
    return { s, td, call };
  }

  test('that throws: identity_unavailable', async () => {
    const { s, call } = await svidSetup(() => {
      throw new Error('SPIRE down');
    }, { timeoutMs: 1000 });
    expect(await outcome(call())).toBe('identity_unavailable');
    expect(s.ran).toEqual([]);
  });

  test('that hangs: identity_unavailable at the bundle deadline, and the source is told to stop', async () => {
    const signals: AbortSignal[] = [];
    const { s, call } = await svidSetup((opts?: { signal: AbortSignal }) => {
      signals.push(opts!.signal);
      return HANG();
    }, { timeoutMs: SHORT });
    expect(await outcome(call())).toBe('identity_unavailable');
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
    expect(s.ran).toEqual([]);
  });

  test('that hangs once, then recovers: the next call after the cooldown succeeds (the shared refresh is not wedged)', async () => {
    let hang = true;
    let loads = 0;
    const holder: { doc?: unknown } = {};
    const { s, td, call } = await svidSetup(() => {
      loads++;
      return hang ? HANG() : holder.doc;
    }, { timeoutMs: SHORT, cooldownSec: 1 });
    holder.doc = td.bundle();
    expect(await outcome(call())).toBe('identity_unavailable');
    hang = false;
    s.clock.advance(1000);
    expect(await outcome(call())).toBe('allowed');
    expect(loads).toBe(2);
    expect(s.ran).toEqual(['tickets.read:4711']);
  });

  test('whose refresh outlives the guard identity deadline: that call is denied, the refresh still ends at its own deadline, the next call succeeds', async () => {
    let hang = true;
    const holder: { doc?: unknown } = {};
    const { s, td, call } = await svidSetup(() => (hang ? HANG() : holder.doc), { timeoutMs: 4 * SHORT, cooldownSec: 1 }, SHORT);
    holder.doc = td.bundle();
    const first = await denial(call());
    expect(first.code).toBe('identity_unavailable');
    expect(first.reason).toContain(`did not answer within ${SHORT} ms`);
    hang = false;
    await new Promise((r) => setTimeout(r, 5 * SHORT));
    s.clock.advance(1000);
    expect(await outcome(call())).toBe('allowed');
  });
});

describe('an issuer key function (trust.jwks)', () => {
  test('that hangs: capability_invalid at timeouts.keysMs, naming the issuer', async () => {
    const s0 = await setup();
    const s = await setup({ trust: { issuer: ISSUER, jwks: HANG }, timeouts: { keysMs: SHORT } });
    const err = await denial(s.readTicket(ARGS, { capability: await s0.grant() }));
    expect(err.code).toBe('capability_invalid');
    expect(err.reason).toContain(`"${ISSUER}" did not answer within ${SHORT} ms`);
    expect(s.ran).toEqual([]);
  });

  test('that throws: capability_invalid', async () => {
    const s0 = await setup();
    const s = await setup({
      trust: {
        issuer: ISSUER,
        jwks: () => {
          throw new Error('kms down');
        },
      },
    });
    expect(await outcome(s.readTicket(ARGS, { capability: await s0.grant() }))).toBe('capability_invalid');
    expect(s.ran).toEqual([]);
  });

  test('that hangs once, then recovers: the next call succeeds', async () => {
    let hang = true;
    const s0 = await setup();
    const s = await setup({ trust: { issuer: ISSUER, jwks: () => (hang ? HANG() : s0.authority.jwks()) }, timeouts: { keysMs: SHORT } });
    const cap = await s0.grant();
    expect(await outcome(s.readTicket(ARGS, { capability: cap }))).toBe('capability_invalid');
    hang = false;
    expect(await outcome(s.readTicket(ARGS, { capability: cap }))).toBe('allowed');
  });
});

describe('a prover', () => {
  async function bound(prove: (b: unknown, o?: { signal?: AbortSignal }) => unknown) {
    const s = await setup({ timeouts: { proofMs: SHORT } });
    const key = await createAgentKey('EdDSA', { clock: s.clock });
    const cap = await s.grant({ confirmation: { jkt: key.jkt } });
    return { s, call: () => s.guard.withCapability({ capability: cap, prover: { prove: prove as never } }, () => s.readTicket(ARGS)) };
  }

  test('that never signs: proof_invalid at timeouts.proofMs, and its signal is aborted', async () => {
    let seen: AbortSignal | undefined;
    const { s, call } = await bound((_b, o) => {
      seen = o?.signal;
      return HANG();
    });
    const err = await denial(call());
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain(`did not answer within ${SHORT} ms`);
    expect(seen?.aborted).toBe(true);
    expect(s.ran).toEqual([]);
  });

  test('that throws: proof_invalid', async () => {
    const { s, call } = await bound(() => {
      throw new Error('hsm locked');
    });
    expect(await outcome(call())).toBe('proof_invalid');
    expect(s.ran).toEqual([]);
  });
});

describe('a credential provider', () => {
  function provider(mint: CredentialProvider['mint'], revoke: CredentialProvider['revoke'] = () => {}): CredentialProvider {
    return { mint, revoke };
  }
  const lease = (r: CredentialRequest): Credential => ({ id: r.credentialId, token: 'lease-secret', expiresAt: 0, type: 'lease' });

  test('whose mint never answers: credential_unavailable at timeouts.credentialMs, and the request signal is aborted', async () => {
    let seen: AbortSignal | undefined;
    const s = await setup({
      credentials: {
        provider: provider((r) => {
          seen = r.signal;
          return HANG();
        }),
      },
      timeouts: { credentialMs: SHORT },
    });
    const err = await denial(s.guard.withCapability(await s.grant(), () => s.readTicket(ARGS)));
    expect(err.code).toBe('credential_unavailable');
    expect(err.reason).toContain(`did not answer within ${SHORT} ms`);
    expect(seen?.aborted).toBe(true);
    expect(s.ran).toEqual([]);
  });

  test('whose mint rejects: credential_unavailable', async () => {
    const s = await setup({ credentials: { provider: provider(() => Promise.reject(new Error('vault sealed'))) } });
    expect(await outcome(s.guard.withCapability(await s.grant(), () => s.readTicket(ARGS)))).toBe('credential_unavailable');
    expect(s.ran).toEqual([]);
  });

  test('whose revoke never answers: the call still returns its result, and the failure is on the span', async () => {
    let revokeSignal: AbortSignal | undefined;
    const s = await setup({
      credentials: {
        provider: provider(lease, (_c, r) => {
          revokeSignal = r.signal;
          return HANG();
        }),
      },
      timeouts: { credentialMs: SHORT },
      telemetry: { tracer: spans.tracer },
    });
    await expect(s.guard.withCapability(await s.grant(), () => s.readTicket(ARGS))).resolves.toMatchObject({ id: '4711' });
    expect(revokeSignal?.aborted).toBe(true);
    expect(spans.toolSpans('tickets.read')[0]?.attributes[ATTR.CREDENTIAL_REVOKE_ERROR]).toBe('DeadlineError');
  });

  test('whose revoke throws: the call still returns its result, and the failure is on the span', async () => {
    const s = await setup({
      credentials: {
        provider: provider(lease, () => {
          throw new TypeError('lease api gone');
        }),
      },
      telemetry: { tracer: spans.tracer },
    });
    await expect(s.guard.withCapability(await s.grant(), () => s.readTicket(ARGS))).resolves.toMatchObject({ id: '4711' });
    expect(spans.toolSpans('tickets.read')[0]?.attributes[ATTR.CREDENTIAL_REVOKE_ERROR]).toBe('TypeError');
  });
});

describe('a custom store', () => {
  test('whose reserve never answers: store_unavailable at timeouts.storeMs', async () => {
    const s = await setup({ store: storeWith({ reserve: HANG }), timeouts: { storeMs: SHORT } });
    const err = await denial(s.guard.withCapability(await s.grant(), () => s.readTicket(ARGS)));
    expect(err.code).toBe('store_unavailable');
    expect(err.reason).toBe(`the guard store did not answer within ${SHORT} ms; the call is denied (fail closed)`);
    expect(s.ran).toEqual([]);
  });

  test('whose reserve answers a thenable that never settles: store_unavailable', async () => {
    const s = await setup({ store: storeWith({ reserve: () => ({ then() {} }) as never }), timeouts: { storeMs: SHORT } });
    expect(await outcome(s.guard.withCapability(await s.grant(), () => s.readTicket(ARGS)))).toBe('store_unavailable');
    expect(s.ran).toEqual([]);
  });

  const approvedWithId = { approver: async () => ({ approved: true as const, approver: 'alice', id: 'approval-1' }) };

  function highRisk(s: Awaited<ReturnType<typeof setup>>) {
    return guardTool(s.guard, { name: 'email.send', description: 'Send', input: z.object({ to: z.string() }), risk: 'external' }, () => {
      s.ran.push('sent');
    });
  }

  test.each([
    ['never answers', HANG],
    [
      'throws',
      () => {
        throw new Error('redis://:hunter2@10.0.0.1 refused');
      },
    ],
  ] as const)('whose consumeOnce (single-use approval) %s: store_unavailable', async (_name, consumeOnce) => {
    const s = await setup({ ...approvedWithId, store: storeWith({ consumeOnce: consumeOnce as never }), timeouts: { storeMs: SHORT } });
    const err = await denial(s.guard.withCapability(await s.grant(), () => highRisk(s)({ to: 'a@example.com' })));
    expect(err.code).toBe('store_unavailable');
    expect(err.message).not.toContain('hunter2');
    expect(s.ran).toEqual([]);
  });

  test('whose second reserve (revocation re-checked after approval) never answers: store_unavailable', async () => {
    const base = createMemoryStore();
    let reserves = 0;
    const store = storeWith({ reserve: (r) => (++reserves === 1 ? base.reserve(r) : HANG()) });
    const s = await setup({ approver: async () => ({ approved: true }), store, timeouts: { storeMs: SHORT } });
    expect(await outcome(s.guard.withCapability(await s.grant(), () => highRisk(s)({ to: 'a@example.com' })))).toBe('store_unavailable');
    expect(reserves).toBe(2);
    expect(s.ran).toEqual([]);
  });
});

describe('the synchronous fast path', () => {
  test('a call whose dependencies all answer synchronously creates no timer', async () => {
    const s = await setup();
    const cap = await s.grant();
    await s.guard.withCapability(cap, () => s.readTicket(ARGS));
    const timers = vi.spyOn(globalThis, 'setTimeout');
    await s.guard.withCapability(cap, () => s.readTicket(ARGS));
    expect(timers).not.toHaveBeenCalled();
  });

  test('a store that answers with a promise is timed: one timer for its one answer', async () => {
    const base = createMemoryStore();
    const s = await setup({ store: storeWith({ reserve: async (r) => base.reserve(r) }) });
    const cap = await s.grant();
    await s.guard.withCapability(cap, () => s.readTicket(ARGS));
    const timers = vi.spyOn(globalThis, 'setTimeout');
    await s.guard.withCapability(cap, () => s.readTicket(ARGS));
    expect(timers).toHaveBeenCalledTimes(1);
    expect(timers.mock.calls[0]![1]).toBe(2000);
  });
});

describe('timeouts option', () => {
  test.each([
    [{ storeMS: 5 }, TypeError, /unknown option "timeouts\.storeMS" \(did you mean "timeouts\.storeMs"\?\)/],
    [{ storeMs: 0 }, RangeError, /timeouts\.storeMs: Too small: expected number to be >0/],
    [{ identityMs: 300_001 }, RangeError, /timeouts\.identityMs/],
    [{ keysMs: Number.NaN }, RangeError, /timeouts\.keysMs/],
    [{ proofMs: '5' }, TypeError, /timeouts\.proofMs: Invalid input: expected number, received string/],
    [5, TypeError, /timeouts: Invalid input: expected object, received number/],
    [null, TypeError, /timeouts: Invalid input: expected object, received null/],
  ] as const)('%j is refused at construction, naming the option', async (timeouts, type, message) => {
    await expect(setup({ timeouts: timeouts as never })).rejects.toThrow(type);
    await expect(setup({ timeouts: timeouts as never })).rejects.toThrow(message);
  });
});
