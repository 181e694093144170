import { Redis } from 'ioredis';
import { afterAll, describe, expect, test } from 'vitest';
import { GUARD_RUNTIME, type GuardInternals } from '../../src/guard/create-guard.js';
import type { Guard } from '../../src/guard/types.js';
import { createCedarEngine } from '../../src/policy/cedar.js';
import { createRedisStore } from '../../src/store/redis.js';
import {
  createAgentKey,
  createAuthority,
  createGuard,
  createIdentityRouter,
  createJwtSvidVerifier,
  createMemoryStore,
  createOidcVerifier,
  createRulesEngine,
  delegate,
  verifyCallCredential,
} from '../../src/index.js';
import { createScriptedApprover, createTerminalApprover } from '../../src/policy/approvers.js';

// A real client that never connects: every case below is refused before the store touches it.
const redis = new Redis({ lazyConnect: true });
afterAll(() => redis.disconnect());

const trust = { issuer: 'https://authz.example.com', jwks: { keys: [] } };
const store = createMemoryStore();
const verifier = { verify: async () => ({ id: 'spiffe://example.org/a', attributes: {} }) };

/** Runs a factory, sync or async, and returns what it threw. */
async function thrown(run: (options: Record<string, unknown>) => unknown, options: Record<string, unknown>): Promise<unknown> {
  try {
    await run(options);
  } catch (err) {
    return err;
  }
  throw new Error('the factory accepted the options');
}

interface Case {
  readonly name: string;
  readonly run: (options: Record<string, unknown>) => unknown;
  readonly valid: Record<string, unknown>;
  /** A misspelling of a real option, and the option it should suggest. */
  readonly misspelt: readonly [string, string];
  /** An option given a value of the wrong type. */
  readonly wrongType: readonly [string, unknown];
}

const cases: Case[] = [
  {
    name: 'createGuard',
    run: (o) => createGuard(o as never),
    valid: { audience: 'app', trust },
    misspelt: ['requireIdentiy', 'requireIdentity'],
    wrongType: ['store', {}],
  },
  {
    name: 'createAuthority',
    run: (o) => createAuthority(o as never),
    valid: { issuer: 'https://authz.example.com' },
    misspelt: ['maxTTL', 'maxTtl'],
    wrongType: ['requireAgentToken', 'yes'],
  },
  {
    name: 'createRedisStore',
    run: (o) => createRedisStore(o as never),
    valid: { client: redis },
    misspelt: ['prefx', 'prefix'],
    wrongType: ['onError', 'log'],
  },
  {
    name: 'createMemoryStore',
    run: (o) => createMemoryStore(o as never),
    valid: {},
    misspelt: ['maxEntires', 'maxEntries'],
    wrongType: ['clock', Date.now()],
  },
  {
    name: 'createJwtSvidVerifier',
    run: (o) => createJwtSvidVerifier(o as never),
    valid: { audience: 'app', trustDomains: { 'example.org': { keys: [] } } },
    misspelt: ['clockSkew', 'clockSkewSec'],
    wrongType: ['audience', 42],
  },
  {
    name: 'createOidcVerifier',
    run: (o) => createOidcVerifier(o as never),
    valid: { issuer: 'https://idp.example.com', audience: 'app' },
    misspelt: ['identityclaim', 'identityClaim'],
    wrongType: ['algorithms', 'RS256'],
  },
  {
    name: 'createIdentityRouter',
    run: (o) => createIdentityRouter(o as never),
    valid: { jwtSvid: verifier },
    misspelt: ['jwtSVID', 'jwtSvid'],
    wrongType: ['oidc', { 'https://idp.example.com': () => undefined }],
  },
  {
    name: 'createRulesEngine',
    run: (o) => createRulesEngine({ version: 1, default: 'deny', rules: [] }, o as never),
    valid: {},
    misspelt: ['maxTrackedAgent', 'maxTrackedAgents'],
    wrongType: ['name', 7],
  },
  {
    name: 'createCedarEngine',
    run: (o) => createCedarEngine(o as never),
    valid: { policies: '', tools: [{ name: 'tickets.read', description: 'Read', input: {} }] },
    misspelt: ['timezone', 'timeZone'],
    wrongType: ['policies', 5],
  },
  {
    name: 'createScriptedApprover',
    run: (o) => createScriptedApprover([], o as never),
    valid: {},
    misspelt: ['aprover', 'approver'],
    wrongType: ['approver', true],
  },
  {
    name: 'createTerminalApprover',
    run: (o) => createTerminalApprover(o as never),
    valid: {},
    misspelt: ['ouput', 'output'],
    wrongType: ['output', 'stderr'],
  },
  {
    name: 'verifyCallCredential',
    run: (o) => verifyCallCredential('a.b.c', o as never),
    valid: { jwks: { keys: [] }, issuer: 'urn:tessera:guard:app', audience: 'tickets', store },
    misspelt: ['argHash', 'argsHash'],
    wrongType: ['store', new Map()],
  },
  {
    name: 'delegate',
    run: async (o) => delegate('a.b.c', { to: 'spiffe://example.org/b', tools: {} }, { key: await createAgentKey(), ...o } as never),
    valid: {},
    misspelt: ['maxdepth', 'maxDepth'],
    wrongType: ['clock', 'now'],
  },
];

describe.each(cases)('$name options', ({ name, run, valid, misspelt, wrongType }) => {
  test('a misspelt key is a TypeError naming it and the option it meant', async () => {
    const [typo, meant] = misspelt;
    const err = await thrown(run, { ...valid, [typo]: undefined });
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe(`${name} options: unknown option "${typo}" (did you mean "${meant}"?)`);
  });

  test('an option of the wrong type is a TypeError naming it', async () => {
    const [option, value] = wrongType;
    const err = await thrown(run, { ...valid, [option]: value });
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(new RegExp(`^${name} options\\.${option}(\\.|\\[|:)`));
  });
});

describe('createGuard nested options', () => {
  test.each([
    [{ telemetry: { spanmode: 'enrich' } }, 'unknown option "telemetry.spanmode" (did you mean "telemetry.spanMode"?)'],
    [{ credentials: { signingkey: {} } }, 'unknown option "credentials.signingkey" (did you mean "credentials.signingKey"?)'],
    [{ proof: { maxAgeSecs: 60 } }, 'unknown option "proof.maxAgeSecs" (did you mean "proof.maxAgeSec"?)'],
    [{ trust: { ...trust, maxStale: 1000 } }, 'unknown option "trust.maxStale" (did you mean "trust.maxStaleMs"?)'],
    [{ trust: [trust, { ...trust, issuer: 'b', fetchTimeout: 5 }] }, 'unknown option "trust.1.fetchTimeout" (did you mean "trust.1.fetchTimeoutMs"?)'],
  ])('%j is refused naming the nested key', (extra, message) => {
    expect(() => createGuard({ audience: 'app', trust, ...extra } as never)).toThrow(new TypeError(`createGuard options: ${message}`));
  });

  test.each([
    [{ telemetry: { spanMode: 'enrch' } }, /^createGuard options\.telemetry\.spanMode: /],
    [{ store: { reserve: () => undefined } }, /^createGuard options\.store: must be a TesseraStore/],
    [{ policy: [{ evaluate: 'permit' }] }, /^createGuard options\.policy: must be a PolicyEngine/],
    [{ identity: { verify: true } }, /^createGuard options\.identity: must be an IdentityVerifier/],
    [{ approver: { approve: () => true } }, /^createGuard options\.approver: must be an Approver/],
    [{ clock: 0 }, /^createGuard options\.clock: must be a function/],
    [{ credentials: { provider: { mint: () => undefined } } }, /^createGuard options\.credentials\.provider: must be a CredentialProvider/],
  ])('%j is a TypeError naming the option', (extra, message) => {
    expect(() => createGuard({ audience: 'app', trust, ...extra } as never)).toThrow(TypeError);
    expect(() => createGuard({ audience: 'app', trust, ...extra } as never)).toThrow(message);
  });

  test('a number out of range is a RangeError naming the option', () => {
    expect(() => createGuard({ audience: 'app', trust, policyTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => createGuard({ audience: 'app', trust, policyTimeoutMs: 0 })).toThrow(/^createGuard options\.policyTimeoutMs: /);
    expect(() => createGuard({ audience: 'app', trust, maxDelegationDepth: 1.5 })).toThrow(RangeError);
  });

  test('a timeout given as undefined keeps its default', () => {
    const guard = createGuard({ audience: 'app', trust, timeouts: { storeMs: undefined, proofMs: 50 } } as never) as Guard & GuardInternals;
    expect(guard[GUARD_RUNTIME].timeouts).toEqual({ identityMs: 10_000, keysMs: 10_000, proofMs: 50, credentialMs: 10_000, storeMs: 2_000 });
  });
});
