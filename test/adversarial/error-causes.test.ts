/**
 * Printing or serialising any error Tessera throws shows no token, no secret and no dependency's
 * message: causes are summaries (class name and a constant code), checked with util.inspect at
 * full depth with hidden properties, JSON.stringify, and a walk of every own property.
 */
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { CapabilityError, CredentialRejectedError, safeCause, TesseraError, ToolDeniedError } from '../../src/errors.js';
import { IdentityError } from '../../src/identity/errors.js';
import { createMemoryStore, verifyCallCredential, type IdentityVerifier, type TesseraStore, guardTool } from '../../src/index.js';
import { RedisStoreError } from '../../src/store/redis.js';
import { setup } from '../support/fixtures.js';
import { setupChain } from '../delegation/chain-fixtures.js';

const SECRET = 'hunter2-s3cret';
const SECRET_URL = `redis://admin:${SECRET}@cache.internal:6379`;

/** Every string reachable from `err` through own properties (enumerable or not), symbols included. */
function reachableText(root: unknown): string {
  const seen = new Set<unknown>();
  const out: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === 'string') return void out.push(v);
    if (v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v) || depth > 12) return;
    seen.add(v);
    for (const key of Reflect.ownKeys(v as object)) {
      const d = Object.getOwnPropertyDescriptor(v, key);
      if (d === undefined) continue;
      out.push(String(key));
      walk('value' in d ? d.value : undefined, depth + 1);
    }
  };
  walk(root, 0);
  return out.join('\n');
}

/** Everything a log line, a console.error or a JSON dump could show of `err`. */
function everything(err: unknown): string {
  return [inspect(err, { depth: Infinity, showHidden: true }), JSON.stringify(err), reachableText(err), String(err)].join('\n');
}

function expectClean(err: unknown, ...forbidden: string[]): void {
  expect(err).toBeInstanceOf(TesseraError);
  const text = everything(err);
  for (const f of forbidden) expect(text).not.toContain(f);
}

const failing = (): never => {
  throw new Error(`connect ECONNREFUSED ${SECRET_URL}`);
};

describe('denials from a guarded call', () => {
  test('a store that fails with its URL in the message: store_unavailable, the URL nowhere', async () => {
    const memory = createMemoryStore();
    const store: TesseraStore = { ...memory, reserve: failing };
    const s = await setup({ store });
    const err = await s.readTicket({ ticketId: '4711' }, { capability: await s.grant() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'store_unavailable' });
    expectClean(err, SECRET, 'ECONNREFUSED cache');
    // The cause is kept, as a summary.
    expect((err as Error).cause).toEqual({ name: 'Error' });
    expect(s.ran).toEqual([]);
  });

  test('a credential provider that fails with a secret: credential_unavailable, the secret nowhere', async () => {
    const s = await setup({ credentials: { provider: { mint: failing, revoke: () => undefined } } });
    const err = await s.readTicket({ ticketId: '4711' }, { capability: await s.grant() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'credential_unavailable' });
    expectClean(err, SECRET);
    expect(s.ran).toEqual([]);
  });

  test('an identity verifier that fails with a secret: identity_unavailable, the secret nowhere', async () => {
    const identity: IdentityVerifier = { verify: async () => failing() };
    const s = await setup({ identity, requireIdentity: true });
    const cap = await s.grant();
    const err = await s.guard.withCapability({ capability: cap, identity: 'x.y.z' }, () => s.readTicket({ ticketId: '4711' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'identity_unavailable' });
    expectClean(err, SECRET);
    expect(s.ran).toEqual([]);
  });
});

describe('delegation errors never carry the parent capability', () => {
  test('an expired chain inspected: capability_expired, no link token or payload anywhere', async () => {
    const c = await setupChain();
    const { root, toResearcher, toMailer } = await c.chain();
    c.clock.advance(11 * 60_000);
    const err = await c.guard.inspect(toMailer).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'capability_expired' });
    const pieces = [root, toResearcher, toMailer].flatMap((t) => t.split('.').slice(1));
    expectClean(err, ...pieces);
    // jose's error class survives as the innermost summary; its payload does not.
    expect(inspect(err, { depth: Infinity })).toContain('JWTExpired');
  });

  test('a chain from an authority this guard does not trust: no token anywhere in the guarded denial', async () => {
    const c = await setupChain();
    const { toMailer } = await c.chain();
    const g = await setupChain();
    const err = await g.sendEmail({ to: 'ops@example.com', body: 'x' }, { capability: toMailer }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolDeniedError);
    expectClean(err, ...toMailer.split('.').slice(1));
  });
});

describe('every error class summarises its cause', () => {
  const jose = Object.assign(new Error(`"aud" claim check failed ${SECRET}`), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', payload: { prt: SECRET } });

  test.each([
    ['CapabilityError', () => new CapabilityError('capability_invalid', 'r', { cause: jose })],
    ['IdentityError', () => new IdentityError('identity_unavailable', 'r', { cause: jose })],
    ['CredentialRejectedError', () => new CredentialRejectedError('store_unavailable', 'r', { cause: jose })],
    ['RedisStoreError', () => new RedisStoreError('r')],
    ['nested', () => new CapabilityError('delegation_invalid', 'r', { cause: new CapabilityError('capability_invalid', 'r', { cause: jose }) })],
  ])('%s: only the class name and the constant code remain', (_, make) => {
    const err = make();
    expectClean(err, SECRET, 'aud" claim');
    expect(JSON.stringify(safeCause(jose))).toBe('{"name":"Error","code":"ERR_JWT_CLAIM_VALIDATION_FAILED"}');
  });

  test('a code that is not a constant is dropped', () => {
    expect(safeCause(Object.assign(new Error('x'), { code: SECRET_URL }))).toEqual({ name: 'Error' });
    expect(safeCause('a thrown string with a secret')).toEqual({ name: 'NonError' });
  });

  test('a call credential refused for a failing store carries no store message', async () => {
    const s = await setup();
    const store: TesseraStore = { ...createMemoryStore(), consumeCredential: failing };
    let err: unknown;
    const tool = guardTool(s.guard, { name: 'files.read', description: 'Read', input: (await import('zod')).z.object({}), risk: 'read' }, async (_a, ctx) => {
      err = await verifyCallCredential(ctx.credential.token, {
        jwks: s.guard.credentialJwks(),
        issuer: s.guard.credentialIssuer,
        audience: 'files.read',
        store,
        clock: s.clock,
      }).catch((e: unknown) => e);
    });
    await tool({}, { capability: await s.grant({ tools: { 'files.read': {} } }) });
    expect(err).toMatchObject({ code: 'store_unavailable' });
    expectClean(err, SECRET);
  });
});
