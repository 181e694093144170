import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  createAuthority,
  createGuard,
  createMemoryStore,
  guardTool,
  isToolDeniedError,
  type CredentialProvider,
  type Guard,
  type GuardOptions,
  type TesseraStore,
  type ToolContext,
} from '../../src/index.js';
import type { Duration } from '../../src/util/time.js';
import { shardPrefix } from '../../src/store/shards.js';
import { AGENT, AUDIENCE, ISSUER, manualClock } from '../support/fixtures.js';
import { createSpanCapture } from '../support/otel.js';

const capture = createSpanCapture();
afterEach(() => capture.reset());

const TICKET = { ticketId: '4711' };

async function world() {
  const clock = manualClock();
  const authority = await createAuthority({ issuer: ISSUER, clock });
  const grant = (tools: Parameters<typeof authority.grant>[0]['tools'] = { 'tickets.read': { args: { ticketId: { eq: '4711' } }, maxCalls: 1 } }, ttl: Duration = '5m') =>
    authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' }, tools, ttl });
  /** One guard, in the given mode, with a tool that records that it ran and what it could read. */
  const guardIn = (mode: 'enforce' | 'shadow', overrides: Partial<GuardOptions> = {}, risk: 'read' | 'external' = 'read') => {
    const guard = createGuard({
      audience: AUDIENCE,
      trust: { issuer: ISSUER, jwks: () => authority.jwks() },
      clock,
      mode,
      telemetry: { tracer: capture.tracer },
      ...overrides,
    });
    const ran: { ticketId: string; credential: string | undefined }[] = [];
    const readTicket = guardTool(
      guard,
      { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk },
      (args, ctx: ToolContext) => {
        let credential: string | undefined;
        try {
          credential = ctx.credential.id;
        } catch {
          credential = undefined;
        }
        ran.push({ ticketId: args.ticketId, credential });
        return { ticket: args.ticketId };
      },
    );
    return { guard, readTicket, ran };
  };
  return { clock, authority, grant, guardIn };
}

type World = Awaited<ReturnType<typeof world>>;

function brokenStore(): TesseraStore {
  const base = createMemoryStore();
  return { ...base, reserve: () => Promise.reject(new Error('ECONNREFUSED')) };
}
const throwingProvider: CredentialProvider = {
  mint() {
    throw new Error('vault sealed');
  },
  revoke() {},
};

interface Scenario {
  readonly code: string;
  readonly overrides?: Partial<GuardOptions>;
  readonly risk?: 'read' | 'external';
  /** Makes the call (after `before`, if any) and returns its promise. */
  readonly call: (w: World, g: { guard: Guard; readTicket: (a: { ticketId: string }) => Promise<unknown> }) => Promise<unknown>;
  /** Calls made first (their outcome is not the subject). */
  readonly calls?: number;
  /** Whether a credential can be minted for the call in shadow mode. */
  readonly credential: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { code: 'capability_missing', call: (_w, g) => g.readTicket(TICKET), credential: false },
  { code: 'capability_invalid', call: (_w, g) => g.guard.withCapability('not.a.token', () => g.readTicket(TICKET)), credential: false },
  {
    code: 'capability_expired',
    call: async (w, g) => {
      const token = await w.grant(undefined, '1m');
      w.clock.advance(5 * 60_000);
      return g.guard.withCapability(token, () => g.readTicket(TICKET));
    },
    credential: false,
  },
  {
    code: 'capability_revoked',
    call: async (w, g) => {
      const token = await w.grant();
      await g.guard.revokeCapability((await g.guard.inspect(token)).id);
      return g.guard.withCapability(token, () => g.readTicket(TICKET));
    },
    credential: true,
  },
  {
    code: 'identity_unavailable',
    overrides: { identity: { verify: () => Promise.reject(new Error('ECONNREFUSED')) } },
    call: async (w, g) => g.guard.withCapability({ capability: await w.grant(), identity: 'x.y.z' }, () => g.readTicket(TICKET)),
    credential: false,
  },
  {
    code: 'tool_not_granted',
    call: async (w, g) => g.guard.withCapability(await w.grant({ 'email.send': {} }), () => g.readTicket(TICKET)),
    credential: true,
  },
  {
    code: 'arguments_out_of_scope',
    call: async (w, g) => g.guard.withCapability(await w.grant(), () => g.readTicket({ ticketId: '9999' })),
    credential: true,
  },
  {
    code: 'call_limit_exceeded',
    call: async (w, g) => {
      const token = await w.grant();
      await g.guard.withCapability(token, () => g.readTicket(TICKET));
      return g.guard.withCapability(token, () => g.readTicket(TICKET));
    },
    calls: 1,
    credential: true,
  },
  {
    code: 'policy_denied',
    overrides: { policy: { name: 'no-tickets', evaluate: () => ({ effect: 'deny', reason: 'tickets are closed today', policyIds: ['p1'] }) } },
    call: async (w, g) => g.guard.withCapability(await w.grant(), () => g.readTicket(TICKET)),
    credential: true,
  },
  {
    code: 'policy_error',
    overrides: {
      policy: {
        name: 'broken',
        evaluate: () => {
          throw new Error('boom');
        },
      },
    },
    call: async (w, g) => g.guard.withCapability(await w.grant(), () => g.readTicket(TICKET)),
    credential: true,
  },
  { code: 'approval_denied', risk: 'external', call: async (w, g) => g.guard.withCapability(await w.grant(), () => g.readTicket(TICKET)), credential: true },
  { code: 'store_unavailable', overrides: { store: brokenStore() }, call: async (w, g) => g.guard.withCapability(await w.grant(), () => g.readTicket(TICKET)), credential: true },
  {
    code: 'credential_unavailable',
    overrides: { credentials: { provider: throwingProvider } },
    call: async (w, g) => g.guard.withCapability(await w.grant(), () => g.readTicket(TICKET)),
    credential: false,
  },
];

const lastSpan = async (): Promise<ReadableSpan> => {
  const spans = await capture.spans();
  return spans[spans.length - 1]!;
};

describe('shadow mode records what enforce mode decides, and runs the tool', () => {
  test.each(SCENARIOS)('$code', async (s) => {
    const w = await world();
    const enforce = w.guardIn('enforce', s.overrides, s.risk);
    const denied = await s.call(w, enforce).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isToolDeniedError(denied) && denied.code).toBe(s.code);
    expect(enforce.ran).toHaveLength(s.calls ?? 0);
    const enforced = await lastSpan();
    expect(enforced.attributes).not.toHaveProperty('tessera.enforced');
    capture.reset();

    const shadow = w.guardIn('shadow', s.overrides, s.risk);
    await expect(s.call(w, shadow)).resolves.toEqual({ ticket: s.code === 'arguments_out_of_scope' ? '9999' : '4711' });
    expect(shadow.ran).toHaveLength((s.calls ?? 0) + 1);
    expect(shadow.ran.at(-1)!.credential !== undefined).toBe(s.credential);
    const recorded = await lastSpan();
    expect(recorded.attributes['tessera.enforced']).toBe(false);
    expect(recorded.attributes['tessera.decision']).toBe('deny');
    expect(recorded.attributes['tessera.denial.code']).toBe(s.code);
    expect(recorded.attributes['tessera.denial.reason']).toBe(enforced.attributes['tessera.denial.reason']);
    expect(recorded.attributes['tessera.standards']).toEqual(enforced.attributes['tessera.standards']);
  });

  test('an allowed call in shadow mode is recorded as allowed, not enforced, with its credential', async () => {
    const w = await world();
    const shadow = w.guardIn('shadow');
    await shadow.guard.withCapability(await w.grant(), () => shadow.readTicket(TICKET));
    expect(shadow.ran).toEqual([{ ticketId: '4711', credential: expect.any(String) }]);
    // Its single-use credential was revoked when the call ended.
    expect(await shadow.guard.store.consumeCredential(shadow.ran[0]!.credential!)).toBe('revoked');
    const span = await lastSpan();
    expect(span.attributes).toMatchObject({ 'tessera.decision': 'allow', 'tessera.enforced': false });
    expect(span.attributes).not.toHaveProperty('tessera.denial.code');
    // Its id lives in its root grant's shard, as in enforce mode, so that on Redis Cluster its
    // registration shares the call's slot.
    expect(shadow.ran[0]!.credential!.slice(0, 2)).toBe(shardPrefix(String(span.attributes['tessera.capability.id'])));
  });

  test('arguments the tool schema rejects are denied in shadow mode too, with what enforce mode answers', async () => {
    const w = await world();
    const shadow = w.guardIn('shadow');
    const token = await w.grant({ 'email.send': {} });
    const err = await shadow.guard.withCapability(token, () => shadow.readTicket({ ticketId: 42 } as never)).catch((e: unknown) => e);
    // Enforce mode stops at the grant, before the arguments are parsed.
    expect(isToolDeniedError(err) && err.code).toBe('tool_not_granted');
    expect(shadow.ran).toEqual([]);
    const span = await lastSpan();
    expect(span.attributes).toMatchObject({ 'tessera.enforced': false, 'tessera.denial.code': 'tool_not_granted' });
  });

  test('a tool without a capability that reads ctx.agent gets the would-be denial', async () => {
    const w = await world();
    const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => w.authority.jwks() }, clock: w.clock, mode: 'shadow' });
    const whoami = guardTool(guard, { name: 'whoami', description: 'w', input: z.object({}), risk: 'read' }, (_a, ctx) => ctx.agent.id);
    const err = await whoami({}).catch((e: unknown) => e);
    expect(isToolDeniedError(err) && err.code).toBe('capability_missing');
  });
});

describe('who is asked in shadow mode', () => {
  test('the approver is asked only about calls no earlier stage would deny', async () => {
    const w = await world();
    const asked: string[] = [];
    const shadow = w.guardIn('shadow', { approver: (r) => (asked.push(String(r.argsPreview.ticketId)), { approved: true, approver: 'alice' }) }, 'external');
    const token = await w.grant({ 'tickets.read': { args: { ticketId: { eq: '4711' } } } });
    await shadow.guard.withCapability(token, () => shadow.readTicket({ ticketId: '9999' }));
    await shadow.guard.withCapability(token, () => shadow.readTicket(TICKET));
    expect(asked).toEqual(['4711']);
    expect(shadow.ran.map((r) => r.ticketId)).toEqual(['9999', '4711']);
    const spans = await capture.spans();
    expect(spans.map((s) => [s.attributes['tessera.decision'], s.attributes['tessera.approval.decision']])).toEqual([
      ['deny', undefined],
      ['allow', 'approved'],
    ]);
  });

  test('policy is not asked when the identity could not be bound', async () => {
    const w = await world();
    let asked = 0;
    const shadow = w.guardIn('shadow', {
      identity: { verify: () => Promise.reject(new Error('ECONNREFUSED')) },
      policy: { name: 'count', evaluate: () => (asked++, { effect: 'allow', reason: 'ok' }) },
    });
    await shadow.guard.withCapability({ capability: await w.grant(), identity: 'x.y.z' }, () => shadow.readTicket(TICKET));
    expect(asked).toBe(0);
    expect(shadow.ran).toHaveLength(1);
  });
});

describe('per-tool mode', () => {
  test('a shadow-mode tool on an enforcing guard runs; an enforce-mode tool on a shadow guard is denied', async () => {
    const w = await world();
    const token = await w.grant({ 'email.send': {} });
    const enforcing = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => w.authority.jwks() }, clock: w.clock });
    const shadowing = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => w.authority.jwks() }, clock: w.clock, mode: 'shadow' });
    const def = { name: 'tickets.read', description: 'r', input: z.object({ ticketId: z.string() }), risk: 'read' } as const;
    const inShadow = guardTool(enforcing, { ...def, mode: 'shadow' }, (a) => a.ticketId);
    const inEnforce = guardTool(shadowing, { ...def, mode: 'enforce' }, (a) => a.ticketId);
    await expect(enforcing.withCapability(token, () => inShadow(TICKET))).resolves.toBe('4711');
    const err = await shadowing.withCapability(token, () => inEnforce(TICKET)).catch((e: unknown) => e);
    expect(isToolDeniedError(err) && err.code).toBe('tool_not_granted');
  });

  test('a tool mode other than enforce or shadow is refused when the tool is made', async () => {
    const w = await world();
    const { guard } = w.guardIn('enforce');
    expect(() => guardTool(guard, { name: 't', description: 'd', input: z.object({}), mode: 'audit' as never }, () => 1)).toThrow(
      /tool "t": mode must be 'enforce' or 'shadow'/,
    );
    expect(() => createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: { keys: [] } }, mode: 'dry' as never })).toThrow(/mode/);
  });
});

describe('budgets in shadow mode', () => {
  test('calls are counted: the shared store refuses the enforce-mode call once shadow calls spent the budget', async () => {
    const w = await world();
    const store = createMemoryStore({ clock: w.clock });
    const shadow = w.guardIn('shadow', { store });
    const enforce = w.guardIn('enforce', { store });
    const token = await w.grant({ 'tickets.read': { maxCalls: 2 } });
    await shadow.guard.withCapability(token, () => shadow.readTicket(TICKET));
    await shadow.guard.withCapability(token, () => shadow.readTicket(TICKET));
    const err = await enforce.guard.withCapability(token, () => enforce.readTicket(TICKET)).catch((e: unknown) => e);
    expect(isToolDeniedError(err) && err.code).toBe('call_limit_exceeded');
    expect(enforce.ran).toEqual([]);
  });
});

describe('shadow-denials metric', () => {
  test('counts would-be denials by code and tool; allowed and enforced calls are not counted', async () => {
    const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
    class TestReader extends MetricReader {
      protected override async onForceFlush(): Promise<void> {}
      protected override async onShutdown(): Promise<void> {}
    }
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const w = await world();
    const shadow = w.guardIn('shadow', { telemetry: { meter: meterProvider.getMeter('tessera') } });
    const token = await w.grant();
    await shadow.guard.withCapability(token, async () => {
      await shadow.readTicket(TICKET); // allowed
      await shadow.readTicket(TICKET); // over maxCalls 1
      await shadow.readTicket({ ticketId: '1' }); // out of scope (and over the limit: the first denial counts)
    });
    await shadow.readTicket(TICKET); // no capability
    await shadow.readTicket({ ticketId: 1 } as never).catch(() => undefined); // enforced: the schema rejects it
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'tessera.guard.shadow_denials')!;
    const points = metric.dataPoints.map((p) => [p.attributes['tessera.denial.code'], p.attributes['gen_ai.tool.name'], p.value]);
    expect(points).toEqual(
      expect.arrayContaining([
        ['call_limit_exceeded', 'tickets.read', 1],
        ['arguments_out_of_scope', 'tickets.read', 1],
        ['capability_missing', 'tickets.read', 1],
      ]),
    );
    expect(points).toHaveLength(3);
    await meterProvider.shutdown();
  });
});
