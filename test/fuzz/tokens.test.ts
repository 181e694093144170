/**
 * Fuzz targets for every compact JWS the SDK reads: capabilities, call credentials, proofs of
 * possession, JWT-SVIDs and OIDC access tokens. Each starts from a valid token and mutates it
 * (characters, segments, re-encoded headers and claims, seed-corpus shapes, garbage); every
 * mutant must be refused with the documented error class and code, quickly, without the token
 * in the error, and the tool body must never run.
 */
import fc from 'fast-check';
import { decodeProtectedHeader, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { CredentialRejectedError, ToolDeniedError } from '../../src/errors.js';
import { createAgentKey, type AgentKey } from '../../src/identity/agent-key.js';
import { IdentityError } from '../../src/identity/errors.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { createOidcVerifier } from '../../src/identity/oidc.js';
import { createProofBinding } from '../../src/identity/proof-binding.js';
import { verifyCallCredential, type Guard, type GuardedTool, type IdentityVerifier, guardTool } from '../../src/index.js';
import { startOidcProvider, type TestOidcProvider } from '../identity/oidc-server.js';
import { createTestTrustDomain } from '../identity/trust-domain.js';
import { AGENT, AUDIENCE, setup } from '../support/fixtures.js';
import { corpus, FUZZ_TIMEOUT_MS, fuzzParams, hostileString } from './support.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const enc = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

interface JwsSeed {
  header?: Record<string, unknown>;
  payload?: Record<string, unknown>;
  raw?: string;
}

const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, '', 'none', 'HS256', 1e308, -1, 0, 9_999_999_999, '9999999999', [], {}, ['x'], { $ne: null }, 'A'.repeat(5000)),
);

const HEADER_KEYS = ['alg', 'typ', 'kid', 'crit', 'b64', 'jku', 'jwk', 'x5u', 'x5c', 'cty', 'zip', 'enc'];
const CLAIM_KEYS = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'intent', 'tools', 'cnf', 'act', 'prt', 'htm', 'tool', 'args_sha256', 'scope', 'client_id'];

/** Mutants of a valid compact JWS; never the valid token itself. */
function mutants(valid: string): fc.Arbitrary<string> {
  const [h, p, s] = valid.split('.') as [string, string, string];
  const header = decodeProtectedHeader(valid) as Record<string, unknown>;
  const payload = decodeJwt(valid) as Record<string, unknown>;
  const seeds = corpus<JwsSeed>('jws.json');
  const pos = fc.nat({ max: valid.length });
  return fc
    .oneof(
      // One character replaced, removed or inserted anywhere, signature included.
      fc.tuple(pos, fc.constantFrom(...B64, '.', '=', '+', '/', ' ', '\n', '\u00e9', '\u0000')).map(([i, c]) => valid.slice(0, i) + c + valid.slice(i + 1)),
      fc.tuple(pos, fc.nat({ max: 12 })).map(([i, n]) => valid.slice(0, i) + valid.slice(i + 1 + n)),
      fc.tuple(pos, hostileString(['.', '..', '=', 'e30', 'eyJ', ' ', '\t', 'A'], 4)).map(([i, x]) => valid.slice(0, i) + x + valid.slice(i)),
      pos.map((i) => valid.slice(0, i)),
      // The same bytes spelled differently: unused low bits of a segment's last character set.
      fc.tuple(fc.constantFrom(0, 1, 2), fc.integer({ min: 1, max: 15 })).map(([seg, bits]) => {
        const parts = [h, p, s];
        const part = parts[seg]!;
        const unused = part.length % 4 === 2 ? 15 : part.length % 4 === 3 ? 3 : 0;
        const last = B64.indexOf(part[part.length - 1]!);
        parts[seg] = part.slice(0, -1) + B64[last | (bits & unused)]!;
        return parts.join('.');
      }),
      // Segments moved around.
      fc.constantFrom(`${h}.${p}.`, `${h}.${p}`, `${p}.${h}.${s}`, `${h}.${h}.${s}`, `${h}.${p}.${s}.${s}`, `.${p}.${s}`, `${h}..${s}`, `${h}.${p}.${s}.`, `${h}.${p}.${s}=`, ` ${valid}`, `${valid}\n`),
      // Re-encoded header or claims with hostile members, signature kept.
      fc.tuple(fc.constantFrom(...HEADER_KEYS), hostileValue).map(([k, v]) => `${enc({ ...header, [k]: v })}.${p}.${s}`),
      fc.tuple(fc.constantFrom(...CLAIM_KEYS), hostileValue).map(([k, v]) => `${h}.${enc({ ...payload, [k]: v })}.${s}`),
      fc.constantFrom(...HEADER_KEYS).map((k) => {
        const { [k]: _dropped, ...rest } = header;
        return `${enc(rest)}.${p}.${s}`;
      }),
      fc.constant(`${enc({ ...header, alg: 'none' })}.${p}.`),
      // Same JSON, different bytes: whitespace and key order change the signing input.
      fc.constant(`${enc(JSON.stringify(header, null, 1))}.${p}.${s}`),
      // Seed corpus shapes.
      fc.constantFrom(...seeds).map((seed) =>
        seed.raw !== undefined ? seed.raw : `${enc({ ...header, ...seed.header })}.${enc({ ...payload, ...seed.payload })}.${s}`,
      ),
      // Garbage.
      fc.string({ maxLength: 40 }),
      fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((parts) => parts.join('.')),
    )
    .filter((t) => t !== valid);
}

/** Fails unless `run` rejects with `cls`, a code from `codes`, quickly, and no token in the error. */
async function refused(token: string, run: () => Promise<unknown>, cls: new (...a: never[]) => Error, codes: readonly string[]): Promise<void> {
  const t0 = performance.now();
  const outcome = await run().then(
    () => 'ACCEPTED',
    (e: unknown) => e,
  );
  expect(performance.now() - t0).toBeLessThan(3000);
  expect(outcome, `accepted ${JSON.stringify(token)}`).not.toBe('ACCEPTED');
  expect(outcome, String(outcome)).toBeInstanceOf(cls);
  expect(codes).toContain((outcome as { code: string }).code);
  if (token.length >= 16) {
    expect((outcome as Error).message).not.toContain(token);
    expect(JSON.stringify(outcome)).not.toContain(token);
  }
}

let s: Awaited<ReturnType<typeof setup>>;
let guard: Guard;
let probe: GuardedTool;
let ran = 0;
let cap: string;
let boundCap: string;
let agentKey: AgentKey;
let credential: string;

beforeAll(async () => {
  s = await setup();
  guard = s.guard;
  probe = guardTool(guard, { name: 'probe', description: 'Probe', input: z.object({ q: z.string() }), risk: 'read', credential: { audience: 'probe-api' } }, (_args, ctx) => {
    ran++;
    credential = ctx.credential.token;
    return 'ran';
  });
  cap = await s.authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { probe: {} } });
  agentKey = await createAgentKey('EdDSA', { clock: s.clock });
  boundCap = await s.authority.grant({ agent: AGENT, audience: AUDIENCE, intent: { id: 'i', purpose: 'p' }, tools: { probe: {} }, confirmation: { jkt: agentKey.jkt } });
  await probe({ q: 'x' }, { capability: cap });
  ran = 0;
});

const CAPABILITY_CODES = ['capability_missing', 'capability_invalid', 'capability_expired', 'capability_revoked', 'delegation_invalid'];

describe('fuzz: capability tokens', () => {
  test(
    'every mutant of a valid capability is denied at verification and the tool never runs',
    async () => {
      await fc.assert(
        fc.asyncProperty(mutants(cap), async (token) => {
          await refused(token, () => probe({ q: 'x' }, { capability: token }), ToolDeniedError, CAPABILITY_CODES);
          expect(ran).toBe(0);
        }),
        fuzzParams(250),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

describe('fuzz: proofs of possession', () => {
  test(
    'every mutant of a valid proof is proof_invalid and the tool never runs',
    async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.nat(), async (seed) => {
          const callId = `c-${++n}`;
          const proof = await agentKey.prove(createProofBinding({ capability: boundCap, tool: 'probe', callId, args: { q: 'x' }, audience: AUDIENCE }));
          const token = fc.sample(mutants(proof), { numRuns: 1, seed })[0]!;
          await refused(token, () => probe({ q: 'x' }, { capability: boundCap, callId, proof: token }), ToolDeniedError, ['proof_invalid']);
          expect(ran).toBe(0);
        }),
        fuzzParams(150),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

describe('fuzz: call credentials', () => {
  test(
    'every mutant of a valid call credential is refused with a CredentialRejectedError',
    async () => {
      const options = { jwks: guard.credentialJwks(), issuer: guard.credentialIssuer, audience: 'probe-api', store: guard.store, clock: s.clock };
      await fc.assert(
        fc.asyncProperty(mutants(credential), async (token) => {
          await refused(token, () => verifyCallCredential(token, options), CredentialRejectedError, ['credential_invalid', 'credential_expired', 'replay_detected']);
        }),
        fuzzParams(250),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

describe('fuzz: JWT-SVIDs', () => {
  test(
    'every mutant of a valid JWT-SVID is identity_invalid',
    async () => {
      const td = await createTestTrustDomain('example.org', { clock: s.clock, audience: AUDIENCE });
      const verifier = createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': td.bundle() }, clock: s.clock });
      const svid = await td.svid(AGENT);
      await expect(verifier.verify(svid)).resolves.toMatchObject({ id: AGENT });
      await fc.assert(
        fc.asyncProperty(mutants(svid), async (token) => {
          await refused(token, () => verifier.verify(token), IdentityError, ['identity_invalid']);
        }),
        fuzzParams(250),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

describe('fuzz: OIDC access tokens', () => {
  let op: TestOidcProvider;
  let verifier: IdentityVerifier;
  let token: string;

  beforeAll(async () => {
    op = await startOidcProvider(['agent-support'], AUDIENCE);
    verifier = createOidcVerifier({ issuer: op.issuer, audience: AUDIENCE, typ: 'at+jwt' });
    token = await op.token('agent-support');
    await verifier.verify(token);
  });
  afterAll(async () => {
    await op?.stop();
  });

  test(
    'every mutant of a valid access token from a real provider is identity_invalid',
    async () => {
      await fc.assert(
        fc.asyncProperty(mutants(token), async (t) => {
          await refused(t, () => verifier.verify(t), IdentityError, ['identity_invalid']);
        }),
        fuzzParams(250),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
