/**
 * A test authority: ephemeral keys, a guard that trusts them, a clock the test controls and span
 * capture on the real OpenTelemetry SDK, all wired so a CI test starts with one line.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeEach } from 'vitest';
import { z } from 'zod';
import { createAuthority, type Authority, type GrantRequest } from '../capability/authority.js';
import type { Intent, ToolGrant } from '../capability/claims.js';
import { createGuard } from '../guard/create-guard.js';
import type { Guard, GuardOptions } from '../guard/types.js';
import type { Duration } from '../util/time.js';
import { createManualClock, type ManualClock } from './clock.js';
import { expectSpan, type SpanExpectation } from './expect-span.js';
import { createSpanCapture, type SpanCapture } from './span-capture.js';

export interface TestAuthorityOptions {
  /** Default `https://authority.test`. */
  issuer?: string;
  /** The guard's audience; default `test-app`. */
  audience?: string;
  /** The agent identity grants name by default; default `spiffe://test.example/agents/test`. */
  agent?: string;
  /** The intent grants carry by default. */
  intent?: Intent;
  /** Where the clock starts (ms since the epoch or a Date); default 2026-11-28T12:00:00Z. */
  now?: number | Date;
  /** Any other guard option (policy, approver, store, identity, ...). `clock` and `telemetry.tracer` are wired for you. */
  guard?: Omit<Partial<GuardOptions>, 'audience' | 'trust' | 'clock'>;
  /**
   * Registers `beforeEach(reset)` and `afterAll(close)` with vitest. Only where hooks may be
   * registered: at the top of a test file or inside `describe`, not inside a test.
   */
  hooks?: boolean;
}

const optionsSchema = z.strictObject({
  issuer: z.string().min(1).optional(),
  audience: z.string().min(1).optional(),
  agent: z.string().min(1).optional(),
  intent: z.strictObject({ id: z.string().min(1), purpose: z.string().min(1) }).optional(),
  now: z.union([z.number().finite(), z.date()]).optional(),
  guard: z.record(z.string(), z.unknown()).optional(),
  hooks: z.boolean().optional(),
});

/** A grant with test defaults: only `tools` is required. */
export type TestGrant = Partial<Omit<GrantRequest, 'tools'>> & { tools: Record<string, ToolGrant> };

export interface TestAuthority {
  readonly issuer: string;
  readonly audience: string;
  readonly agent: string;
  readonly authority: Authority;
  readonly guard: Guard;
  readonly clock: ManualClock;
  readonly spans: SpanCapture;
  /** Grants a capability for this guard; agent, audience, intent and ttl (`5m`) default. */
  grant(request: TestGrant): Promise<string>;
  /** Asserts a guard span matching `want` was captured; returns it. */
  expectSpan(want: SpanExpectation): ReadableSpan;
  /** Clears captured spans and puts the clock back at its start; call it in `beforeEach`. */
  reset(): void;
  /** Shuts the span provider and the store down; call it in `afterAll`. */
  close(): Promise<void>;
}

const DEFAULT_TTL: Duration = '5m';

export async function createTestAuthority(options: TestAuthorityOptions = {}): Promise<TestAuthority> {
  const checked = optionsSchema.safeParse(options, { reportInput: false });
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new TypeError(`createTestAuthority: ${issue.path.map(String).join('.') || 'options'}: ${issue.message}`);
  }
  const issuer = options.issuer ?? 'https://authority.test';
  const audience = options.audience ?? 'test-app';
  const agent = options.agent ?? 'spiffe://test.example/agents/test';
  const intent = options.intent ?? { id: 'test-intent', purpose: 'Run the test suite' };
  const clock = createManualClock(options.now);
  const spans = createSpanCapture();
  const authority = await createAuthority({ issuer, clock });
  const extra = options.guard ?? {};
  const guard = createGuard({
    ...extra,
    audience,
    trust: { issuer, jwks: () => authority.jwks() },
    clock,
    telemetry: { ...extra.telemetry, tracer: spans.tracer },
  });

  const t: TestAuthority = {
    issuer,
    audience,
    agent,
    authority,
    guard,
    clock,
    spans,
    grant: (request) =>
      authority.grant({
        agent,
        audience,
        intent,
        ttl: DEFAULT_TTL,
        ...request,
      }),
    expectSpan: (want) => expectSpan(spans, want),
    reset() {
      spans.reset();
      clock.set(clock.start);
    },
    async close() {
      await spans.shutdown();
      await guard.store.close?.();
    },
  };
  if (options.hooks === true) {
    beforeEach(() => t.reset());
    afterAll(() => t.close());
  }
  return t;
}
