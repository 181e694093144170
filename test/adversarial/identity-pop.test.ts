/**
 * Proof-of-possession attacks. Each pins exactly one outcome, and in every denial the tool's
 * body never runs.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ToolDeniedError } from '../../src/errors.js';
import { createAgentKey } from '../../src/identity/agent-key.js';
import { createProofBinding } from '../../src/identity/proof-binding.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { TesseraStore } from '../../src/store/types.js';
import { AUDIENCE, manualClock, setup } from '../support/fixtures.js';
import { denial } from '../support/outcomes.js';

async function bound() {
  const s = await setup();
  const key = await createAgentKey('EdDSA', { clock: s.clock });
  const cap = await s.grant({ confirmation: { jkt: key.jkt } });
  const proofFor = (tool: string, callId: string, args: unknown, capability = cap, audience = AUDIENCE) =>
    key.prove(createProofBinding({ capability, tool, callId, args, audience }));
  return { ...s, key, cap, proofFor };
}

const ARGS = { ticketId: '4711' };


function forge(header: object, claims: object, signer: (input: Buffer) => Buffer): string {
  const h = Buffer.from(JSON.stringify(header)).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${h}.${p}.${signer(Buffer.from(`${h}.${p}`)).toString('base64url')}`;
}

describe('proof of possession', () => {
  test('withCapability with the agent key proves every call automatically', async () => {
    const { guard, readTicket, ran, cap, key } = await bound();
    const r = await guard.withCapability({ capability: cap, prover: key }, async () => [await readTicket(ARGS), await readTicket(ARGS)]);
    expect(r.map((x) => x.id)).toEqual(['4711', '4711']);
    expect(ran).toEqual(['tickets.read:4711', 'tickets.read:4711']);
  });

  test('an explicit proof for this exact call is accepted', async () => {
    const { readTicket, ran, cap, proofFor } = await bound();
    await readTicket(ARGS, { capability: cap, callId: 'c1', proof: proofFor('tickets.read', 'c1', ARGS) });
    expect(ran).toEqual(['tickets.read:4711']);
  });

  test('a stolen capability token alone is worthless: proof_invalid', async () => {
    const { guard, readTicket, ran, cap } = await bound();
    const err = await denial(guard.withCapability(cap, () => readTicket(ARGS)));
    expect(err.code).toBe('proof_invalid');
    expect(err.message).not.toContain(cap);
    expect(JSON.stringify(err)).not.toContain(cap);
    expect(ran).toEqual([]);
  });

  test('a replayed proof: replay_detected', async () => {
    const { readTicket, ran, cap, proofFor } = await bound();
    const proof = proofFor('tickets.read', 'c1', ARGS);
    await readTicket(ARGS, { capability: cap, callId: 'c1', proof });
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof }));
    expect(err.code).toBe('replay_detected');
    expect(ran).toEqual(['tickets.read:4711']);
  });

  test('a proof made for another tool: proof_invalid', async () => {
    const { readTicket, ran, cap, proofFor } = await bound();
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof: proofFor('email.send', 'c1', ARGS) }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('another tool');
    expect(ran).toEqual([]);
  });

  test('a proof made for other arguments: proof_invalid', async () => {
    const { readTicket, ran, cap, proofFor } = await bound();
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof: proofFor('tickets.read', 'c1', { ticketId: '4712' }) }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('other arguments');
    expect(ran).toEqual([]);
  });

  test('a proof made for another call id: proof_invalid', async () => {
    const { readTicket, ran, cap, proofFor } = await bound();
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c2', proof: proofFor('tickets.read', 'c1', ARGS) }));
    expect(err.code).toBe('proof_invalid');
    expect(ran).toEqual([]);
  });

  test('a proof made for another capability: proof_invalid', async () => {
    const { readTicket, ran, cap, proofFor, grant, key } = await bound();
    const other = await grant({ confirmation: { jkt: key.jkt }, intent: { id: 'ticket-9', purpose: 'Another task' } });
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof: proofFor('tickets.read', 'c1', ARGS, other) }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('another capability');
    expect(ran).toEqual([]);
  });

  test('a proof made for another guard: proof_invalid', async () => {
    const { readTicket, ran, cap, proofFor } = await bound();
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof: proofFor('tickets.read', 'c1', ARGS, cap, 'other-app') }));
    expect(err.code).toBe('proof_invalid');
    expect(ran).toEqual([]);
  });

  test('an expired proof (older than the 60 s window plus skew): proof_invalid', async () => {
    const { readTicket, ran, cap, proofFor, clock } = await bound();
    const proof = proofFor('tickets.read', 'c1', ARGS);
    clock.advance(91_000);
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('older than 60s');
    expect(ran).toEqual([]);
  });

  test('a proof still inside the window is accepted', async () => {
    const { readTicket, ran, cap, proofFor, clock } = await bound();
    const proof = proofFor('tickets.read', 'c1', ARGS);
    clock.advance(89_000);
    await readTicket(ARGS, { capability: cap, callId: 'c1', proof });
    expect(ran).toEqual(['tickets.read:4711']);
  });

  test('a proof dated in the future: proof_invalid', async () => {
    const { readTicket, ran, cap, proofFor, clock } = await bound();
    clock.advance(120_000);
    const proof = proofFor('tickets.read', 'c1', ARGS);
    clock.advance(-120_000);
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('future');
    expect(ran).toEqual([]);
  });

  test('a proof signed by another agent key: proof_invalid', async () => {
    const { readTicket, ran, cap, clock } = await bound();
    const thief = await createAgentKey('EdDSA', { clock });
    const proof = thief.prove(createProofBinding({ capability: cap, tool: 'tickets.read', callId: 'c1', args: ARGS, audience: AUDIENCE }));
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('another key');
    expect(ran).toEqual([]);
  });

  test("a proof naming the agent's public key but signed by another key: proof_invalid", async () => {
    const { readTicket, ran, cap, key, clock } = await bound();
    const { privateKey } = generateKeyPairSync('ed25519');
    const b = createProofBinding({ capability: cap, tool: 'tickets.read', callId: 'c1', args: ARGS, audience: AUDIENCE });
    const proof = forge(
      { alg: 'EdDSA', typ: 'tessera-pop+jwt', jwk: key.publicJwk },
      { tool: b.tool, call_id: b.callId, args_sha256: b.argsHash, cap_sha256: b.capabilityHash, aud: AUDIENCE, iat: Math.floor(clock() / 1000), jti: 'x'.repeat(22) },
      (input) => sign(null, input, privateKey),
    );
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('signature');
    expect(ran).toEqual([]);
  });

  test('an HS256 proof keyed with the public key bytes: proof_invalid', async () => {
    const { readTicket, ran, cap, key, clock } = await bound();
    const { createHmac } = await import('node:crypto');
    const b = createProofBinding({ capability: cap, tool: 'tickets.read', callId: 'c1', args: ARGS, audience: AUDIENCE });
    const proof = forge(
      { alg: 'HS256', typ: 'tessera-pop+jwt', jwk: key.publicJwk },
      { tool: b.tool, call_id: b.callId, args_sha256: b.argsHash, cap_sha256: b.capabilityHash, aud: AUDIENCE, iat: Math.floor(clock() / 1000), jti: 'y'.repeat(22) },
      (input) => createHmac('sha256', String(key.publicJwk.x)).update(input).digest(),
    );
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('algorithm');
    expect(ran).toEqual([]);
  });

  test('a proof whose header points at a key URL (jku): proof_invalid', async () => {
    const { readTicket, ran, cap, key, clock } = await bound();
    const b = createProofBinding({ capability: cap, tool: 'tickets.read', callId: 'c1', args: ARGS, audience: AUDIENCE });
    const proof = forge(
      { alg: 'EdDSA', typ: 'tessera-pop+jwt', jwk: key.publicJwk, jku: 'https://attacker.example/jwks' },
      { tool: b.tool, call_id: b.callId, args_sha256: b.argsHash, cap_sha256: b.capabilityHash, aud: AUDIENCE, iat: Math.floor(clock() / 1000), jti: 'z'.repeat(22) },
      (input) => sign(null, input, key.signingKey.privateKey),
    );
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('"jku"');
    expect(ran).toEqual([]);
  });

  test('a proof with a short jti (under 96 bits): proof_invalid', async () => {
    const { readTicket, ran, cap, key, clock } = await bound();
    const b = createProofBinding({ capability: cap, tool: 'tickets.read', callId: 'c1', args: ARGS, audience: AUDIENCE });
    const proof = forge(
      { alg: 'EdDSA', typ: 'tessera-pop+jwt', jwk: key.publicJwk },
      { tool: b.tool, call_id: b.callId, args_sha256: b.argsHash, cap_sha256: b.capabilityHash, aud: AUDIENCE, iat: Math.floor(clock() / 1000), jti: '1' },
      (input) => sign(null, input, key.signingKey.privateKey),
    );
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('jti');
    expect(ran).toEqual([]);
  });

  test('a capability token used as a proof (typ confusion): proof_invalid', async () => {
    const { readTicket, ran, cap } = await bound();
    const err = await denial(readTicket(ARGS, { capability: cap, callId: 'c1', proof: cap }));
    expect(err.code).toBe('proof_invalid');
    expect(err.reason).toContain('typ');
    expect(ran).toEqual([]);
  });

  test('a prover that fails: proof_invalid, and its error is not quoted', async () => {
    const { guard, readTicket, ran, cap } = await bound();
    const prover = {
      prove(): string {
        throw new Error('secret-hsm-pin-1234');
      },
    };
    const err = await denial(guard.withCapability({ capability: cap, prover }, () => readTicket(ARGS)));
    expect(err.code).toBe('proof_invalid');
    expect(err.message).not.toContain('secret-hsm-pin-1234');
    expect(ran).toEqual([]);
  });

  test('a prover that rejects asynchronously: proof_invalid', async () => {
    const { guard, readTicket, ran, cap } = await bound();
    const err = await denial(guard.withCapability({ capability: cap, prover: { prove: () => Promise.reject(new Error('down')) } }, () => readTicket(ARGS)));
    expect(err.code).toBe('proof_invalid');
    expect(ran).toEqual([]);
  });

  test('an ES256 agent key works the same way', async () => {
    const s = await setup();
    const key = await createAgentKey('ES256', { clock: s.clock });
    const cap = await s.grant({ confirmation: { jwk: key.publicJwk } });
    await s.guard.withCapability({ capability: cap, prover: key }, () => s.readTicket(ARGS));
    expect(s.ran).toEqual(['tickets.read:4711']);
  });

  test('a guard that accepts only ES256 proofs refuses an EdDSA proof: proof_invalid', async () => {
    const s = await setup({ proof: { algorithms: ['ES256'] } });
    const key = await createAgentKey('EdDSA', { clock: s.clock });
    const cap = await s.grant({ confirmation: { jkt: key.jkt } });
    const err = await denial(s.guard.withCapability({ capability: cap, prover: key }, () => s.readTicket(ARGS)));
    expect(err.code).toBe('proof_invalid');
    expect(s.ran).toEqual([]);
  });

  test('a proof replayed at another guard sharing the store: replay_detected', async () => {
    const clock = manualClock();
    const store = createMemoryStore({ clock });
    const a = await setup({ store });
    const key = await createAgentKey('EdDSA', { clock: a.clock });
    const cap = await a.grant({ confirmation: { jkt: key.jkt } });
    const b = await setup({ store, trust: { issuer: a.authority.issuer, jwks: () => a.authority.jwks() } });
    const proof = key.prove(createProofBinding({ capability: cap, tool: 'tickets.read', callId: 'c1', args: ARGS, audience: AUDIENCE }));
    await a.readTicket(ARGS, { capability: cap, callId: 'c1', proof });
    const err = await denial(b.readTicket(ARGS, { capability: cap, callId: 'c1', proof }));
    expect(err.code).toBe('replay_detected');
    expect(b.ran).toEqual([]);
  });

  test('the store cannot record the proof as used: store_unavailable, the tool never runs', async () => {
    const inner = createMemoryStore();
    const store: TesseraStore = {
      reserve: () => Promise.reject(new Error('connection refused')),
      revoke: (k, at, ttl) => inner.revoke(k, at, ttl),
      consumeOnce: (k, ttl) => inner.consumeOnce(k, ttl),
      consumeCredential: (id) => inner.consumeCredential(id),
      revokeCredential: (id, ttl) => inner.revokeCredential(id, ttl),
    };
    const s = await setup({ store });
    const key = await createAgentKey('EdDSA', { clock: s.clock });
    const cap = await s.grant({ confirmation: { jkt: key.jkt } });
    const err = await denial(s.guard.withCapability({ capability: cap, prover: key }, () => s.readTicket(ARGS)));
    expect(err.code).toBe('store_unavailable');
    expect(s.ran).toEqual([]);
  });

  test('a capability without cnf ignores a proof given with it (nothing to bind)', async () => {
    const s = await setup();
    const cap = await s.grant();
    await s.readTicket(ARGS, { capability: cap, proof: 'not-a-proof' });
    expect(s.ran).toEqual(['tickets.read:4711']);
  });

  test('bad proof options are refused at construction, naming the option', async () => {
    await expect(setup({ proof: { maxAgeSec: 0 } })).rejects.toThrow(/proof\.maxAgeSec/);
    await expect(setup({ proof: { algorithms: ['HS256' as never] } })).rejects.toThrow(/proof\.algorithms/);
  });
});
