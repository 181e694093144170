import { inspect } from 'node:util';
import { runInNewContext } from 'node:vm';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, expectTypeOf, test } from 'vitest';
import {
  CapabilityError,
  CredentialRejectedError,
  DENIAL_CODES,
  IdentityError,
  InvalidPolicyError,
  isTesseraError,
  isToolDeniedError,
  TesseraError,
  ToolDeniedError,
  type AnyTesseraError,
  type TesseraErrorCode,
} from '../src/index.js';
import { CredentialProvisioningError, RedisStoreError, SpiffeIdError, StoreFullError } from '../src/errors.js';
import { IdentityError as IdentityErrorFromOldModule } from '../src/identity/errors.js';
import { InvalidPolicyError as InvalidPolicyErrorFromOldModule } from '../src/policy/errors.js';
import { StoreFullError as StoreFullErrorFromOldModule } from '../src/store/memory.js';
import { RedisStoreError as RedisStoreErrorFromOldModule } from '../src/store/redis.js';

const SECRET = 'sk_live_do_not_print';
const details = { tool: 'tickets.read', callId: 'call-1' };

const everyClass = (): AnyTesseraError[] => [
  new ToolDeniedError('tool_not_granted', 'the capability does not grant tickets.read', details),
  new CapabilityError('capability_invalid', 'the signature does not verify', { cause: new Error(SECRET) }),
  new CredentialRejectedError('replay_detected', 'the credential was already used', { cause: new Error(SECRET) }),
  new IdentityError('identity_invalid', 'the JWT-SVID has expired', { cause: new Error(SECRET) }),
  new InvalidPolicyError('rules.yaml', [{ path: 'rules[0].effect', message: 'unknown effect' }]),
  new SpiffeIdError('port'),
  new RedisStoreError('Redis store timeout: no answer within 250 ms; calls are denied until it answers'),
  new StoreFullError(10),
  new CredentialProvisioningError('PostgreSQL refused to create the role for "tickets.query" (SQLSTATE 42501)', { cause: new Error(SECRET) }),
];

/** The code of `err` as the switch sees it; every branch must narrow to the right class. */
function describeError(err: AnyTesseraError): string {
  switch (err.code) {
    case 'policy_invalid':
      expectTypeOf(err).toEqualTypeOf<InvalidPolicyError>();
      return err.source;
    case 'spiffe_id_invalid':
      expectTypeOf(err).toEqualTypeOf<SpiffeIdError>();
      return err.rule;
    case 'store_full':
      expectTypeOf(err).toEqualTypeOf<StoreFullError>();
      return err.reason;
    case 'grant_invalid':
      expectTypeOf(err).toEqualTypeOf<CapabilityError>();
      return err.reason;
    case 'credential_expired':
      expectTypeOf(err).toEqualTypeOf<CredentialRejectedError>();
      return err.reason;
    case 'proof_invalid':
      expectTypeOf(err).toEqualTypeOf<ToolDeniedError | CapabilityError | IdentityError>();
      return err.reason;
    case 'tool_not_granted':
      expectTypeOf(err).toEqualTypeOf<ToolDeniedError | CapabilityError>();
      return err.reason;
    // @ts-expect-error: not a code any Tessera error carries
    case 'tool_not_grantd':
      return 'unreachable';
    default:
      return err.code;
  }
}

describe('the error classes', () => {
  test('switch (err.code) narrows to the class (checked by the type checker), and every code is a TesseraErrorCode', () => {
    // Only the base class, constructed without a code, carries `tessera_error`.
    expectTypeOf<AnyTesseraError['code']>().toEqualTypeOf<Exclude<TesseraErrorCode, 'tessera_error'>>();
    expect(everyClass().map(describeError)).toEqual([
      'the capability does not grant tickets.read',
      'capability_invalid',
      'replay_detected',
      'identity_invalid',
      'rules.yaml',
      'port',
      'store_unavailable',
      'memory store is full (maxEntries 10); raise maxEntries or shorten credential and token lifetimes',
      'credential_unavailable',
    ]);
  });

  test('every class has a string code and reason, and is recognised by isTesseraError', () => {
    for (const err of everyClass()) {
      expect(err).toBeInstanceOf(TesseraError);
      expect(isTesseraError(err)).toBe(true);
      expect(typeof err.reason).toBe('string');
      expect(err.code).toMatch(/^[a-z][a-z0-9_]*$/);
    }
  });

  test('only a denial is recognised by isToolDeniedError', () => {
    expect(everyClass().map(isToolDeniedError)).toEqual([true, false, false, false, false, false, false, false, false]);
  });

  test('the old modules export the same classes', () => {
    expect(IdentityErrorFromOldModule).toBe(IdentityError);
    expect(InvalidPolicyErrorFromOldModule).toBe(InvalidPolicyError);
    expect(StoreFullErrorFromOldModule).toBe(StoreFullError);
    expect(RedisStoreErrorFromOldModule).toBe(RedisStoreError);
  });

  test('util.inspect shows no cause\'s message, and the brand only as an opaque getter under showHidden', () => {
    for (const err of everyClass()) {
      expect(inspect(err, { depth: 10 })).not.toContain('tessera-guard.error');
      const hidden = inspect(err, { depth: 10, showHidden: true });
      expect(hidden).not.toContain(SECRET);
      expect(hidden).toContain('[Symbol(tessera-guard.error)]: [Getter]');
    }
  });
});

describe('recognising errors from another copy of the package', () => {
  test('a denial from a second instance of the module is recognised, where instanceof is not', async () => {
    // @ts-expect-error: the query makes Vite load a second, separate instance of the module
    const copy = (await import('../src/errors.ts?second-copy')) as typeof import('../src/errors.js');
    const foreign = new copy.ToolDeniedError('policy_denied', 'the rules forbid it', details);
    expect(foreign instanceof ToolDeniedError).toBe(false);
    expect(isToolDeniedError(foreign)).toBe(true);
    expect(isTesseraError(foreign)).toBe(true);
    expect(copy.isToolDeniedError(new ToolDeniedError('policy_denied', 'the rules forbid it', details))).toBe(true);
  });

  test('a denial made in another vm realm (its own Error, its own classes) is recognised', () => {
    // errors.ts imports nothing, so its compiled text alone is a whole copy of the module.
    const source = readFileSync(new URL('../src/errors.ts', import.meta.url), 'utf8');
    const compiled = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const module = { exports: {} as Record<string, unknown> };
    const made = runInNewContext(
      `${compiled}
       [new module.exports.ToolDeniedError('approval_denied', 'the approver said no', { tool: 't', callId: 'c' }),
        new module.exports.IdentityError('identity_invalid', 'no identity')]`,
      { module, exports: module.exports },
    ) as [unknown, unknown];
    const [denial, identity] = made;
    expect(denial instanceof Error).toBe(false);
    expect(isToolDeniedError(denial)).toBe(true);
    expect(isTesseraError(identity)).toBe(true);
    expect(isToolDeniedError(identity)).toBe(false);
  });

  test.each([
    ['an ordinary error', new Error('tool_not_granted')],
    ['a plain object shaped like a denial, without the brand', { name: 'ToolDeniedError', code: 'tool_not_granted', reason: 'r', message: 'm', tool: 't', callId: 'c' }],
    ['a branded object whose code is not a denial code', brandedDenial({ code: 'not_a_code' })],
    ['a branded object without a reason', brandedDenial({ reason: undefined })],
    ['a proxy that throws on every read', new Proxy({}, { get: () => { throw new Error('boom'); }, getPrototypeOf: () => { throw new Error('boom'); } })],
    ['null', null],
    ['a string', 'ToolDeniedError'],
  ])('%s is not a denial', (_, value) => {
    expect(isToolDeniedError(value)).toBe(false);
  });

  test('a branded object with the whole shape of a denial is one (the brand is the contract)', () => {
    expect(isToolDeniedError(brandedDenial({}))).toBe(true);
    expect(DENIAL_CODES).toContain('tool_not_granted');
  });
});

function brandedDenial(overrides: Record<string, unknown>): object {
  const fields = { code: 'tool_not_granted', reason: 'r', message: 'm', name: 'ToolDeniedError', tool: 't', callId: 'c', ...overrides };
  return Object.assign(Object.create({ [Symbol.for('tessera-guard.error')]: 'ToolDeniedError' }) as object, fields);
}
