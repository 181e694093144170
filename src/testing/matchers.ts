/**
 * vitest matchers for guarded calls:
 *
 *   await expect(sendEmail(args)).toBeDenied('tool_not_granted');
 *   await expect(readTicket(args)).toBeAllowed();
 *   expect(t.spans).toHaveRecordedSideEffect('email.sent');
 *
 * `toBeDenied` passes only for a `ToolDeniedError` (a guard decision), never for any other
 * rejection: a tool that merely threw was allowed, and a test must not mistake the two.
 */
import { expect, type MatcherState } from 'vitest';
import { DENIAL_CODES, isToolDeniedError, type DenialCode } from '../errors.js';
import { describeSpans, summarizeSpan } from './span-capture.js';
import { spansOf, type SpanSource } from './expect-span.js';
import { checkLeastPrivilege, type LeastPrivilegeGrant, type LeastPrivilegeOptions } from './expect-least-privilege.js';

interface DenialLike {
  readonly code: DenialCode;
  readonly reason: string;
  readonly tool: string;
}

const KNOWN_CODES: ReadonlySet<string> = new Set(DENIAL_CODES);

/** A guard's denial, recognised across copies of the package (the CommonJS build and the ESM kit). */
export function isDenial(err: unknown): err is DenialLike {
  return isToolDeniedError(err);
}

export type CallOutcome =
  | { readonly kind: 'allowed'; readonly value: unknown }
  | { readonly kind: 'denied'; readonly code: DenialCode; readonly reason: string; readonly tool: string }
  | { readonly kind: 'failed'; readonly error: unknown };

/** Settles a call (a promise, or a function that makes one) into what the guard decided. */
export async function settleCall(call: unknown): Promise<CallOutcome> {
  try {
    const value = typeof call === 'function' ? await (call as () => unknown)() : await call;
    return { kind: 'allowed', value };
  } catch (error) {
    if (isDenial(error)) return { kind: 'denied', code: error.code, reason: error.reason, tool: error.tool };
    return { kind: 'failed', error };
  }
}

export function describeOutcome(o: CallOutcome): string {
  if (o.kind === 'allowed') return 'allowed';
  if (o.kind === 'denied') return `denied with ${o.code}: ${o.reason}`;
  const e = o.error;
  return `a tool error: the guard allowed the call, then the tool threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
}

function assertKnownCode(code: unknown): void {
  if (code !== undefined && (typeof code !== 'string' || !KNOWN_CODES.has(code))) {
    throw new TypeError(`toBeDenied: ${JSON.stringify(code)} is not a denial code; known codes: ${DENIAL_CODES.join(', ')}`);
  }
}

/** Any other value was never a call: it would settle as "allowed" and the matcher could not fail. */
function assertCall(matcher: string, received: unknown): void {
  const thenable = received !== null && typeof received === 'object' && typeof (received as { then?: unknown }).then === 'function';
  if (!thenable && typeof received !== 'function') {
    throw new TypeError(`${matcher}: expected a promise or a function that makes the call, got ${received === null ? 'null' : typeof received}`);
  }
}

async function toBeDenied(this: MatcherState, received: unknown, code?: DenialCode) {
  assertKnownCode(code);
  assertCall('toBeDenied', received);
  const outcome = await settleCall(received);
  const pass = outcome.kind === 'denied' && (code === undefined || outcome.code === code);
  const wanted = code === undefined ? 'denied' : `denied with ${code}`;
  return {
    pass,
    message: () =>
      this.isNot ? `expected the call not to be ${wanted}, but it was ${describeOutcome(outcome)}` : `expected the call to be ${wanted}, but it was ${describeOutcome(outcome)}`,
    actual: outcome.kind === 'denied' ? outcome.code : outcome.kind,
    expected: code ?? 'denied',
  };
}

async function toBeAllowed(this: MatcherState, received: unknown) {
  assertCall('toBeAllowed', received);
  const outcome = await settleCall(received);
  return {
    pass: outcome.kind === 'allowed',
    message: () =>
      this.isNot ? `expected the call not to be allowed, but it was ${describeOutcome(outcome)}` : `expected the call to be allowed, but it was ${describeOutcome(outcome)}`,
    actual: outcome.kind === 'denied' ? outcome.code : outcome.kind,
    expected: 'allowed',
  };
}

function toHaveRecordedSideEffect(this: MatcherState, received: unknown, kind: string, options: { tool?: string } = {}) {
  if (typeof kind !== 'string' || kind.length === 0) throw new TypeError('toHaveRecordedSideEffect needs a side effect kind');
  const spans = spansOf(received as SpanSource);
  const pass = spans.some((s) => {
    const x = summarizeSpan(s);
    return x.sideEffects.includes(kind) && (options.tool === undefined || x.tool === options.tool);
  });
  const where = options.tool === undefined ? '' : ` on a ${options.tool} span`;
  return {
    pass,
    message: () =>
      `expected ${this.isNot ? 'no' : 'a'} side effect "${kind}"${where}. Recorded spans:\n${describeSpans(spans)}`,
  };
}

function toBeLeastPrivilege(this: MatcherState, received: unknown, spans: SpanSource, options: LeastPrivilegeOptions = {}) {
  const r = checkLeastPrivilege(received as LeastPrivilegeGrant, spans, options);
  return {
    pass: r.pass,
    message: () => (this.isNot ? 'expected the grant to allow more than its scenario used, but it allows no more' : `expected the grant to be least privilege: ${r.message}`),
  };
}

export const tesseraMatchers = {
  toBeDenied,
  toBeAllowed,
  toHaveRecordedSideEffect,
  toBeLeastPrivilege,
};

/** Registers the matchers with vitest's `expect`. Call once, e.g. in a setup file. */
export function installMatchers(): void {
  expect.extend(tesseraMatchers);
}

interface TesseraMatchers<R = unknown> {
  /** The guard refused the call (optionally with this code); the tool body did not run. */
  toBeDenied(code?: DenialCode): Promise<R>;
  /** The guard allowed the call and the tool returned. */
  toBeAllowed(): Promise<R>;
  /** A captured guard span carries this side effect (from `ctx.sideEffect(kind)`). */
  toHaveRecordedSideEffect(kind: string, options?: { tool?: string }): R;
  /** The grant (a grant request or a capability token) allows no more than the spans' calls used; see `expectLeastPrivilege`. */
  toBeLeastPrivilege(spans: SpanSource, options?: LeastPrivilegeOptions): R;
}

declare module 'vitest' {
  interface Matchers<T = any> extends TesseraMatchers<T> {}
}
