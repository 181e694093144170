/**
 * Identity and proof of possession on the hot path: a guarded allowed call whose JWT-SVID is
 * already verified (cached) and whose capability is bound to the agent's key, so each call
 * carries a fresh proof to check. Compared with the same call on an unbound capability, the
 * difference should be about one signature verification.
 */
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { z } from 'zod';
import { createAgentKey, createAuthority, createGuard, createJwtSvidVerifier, createProofBinding, guardTool } from '../../src/index.js';
import { createProofChecker } from '../../src/guard/proof-checker.js';
import type { VerifiedCapability } from '../../src/capability/verify.js';
import { FLOOR_VERIFY, round, type Harness } from '../harness.js';

export default async function identity(h: Harness): Promise<Record<string, number | string>> {
  const AUDIENCE = 'bench-app';
  const AGENT = 'spiffe://example.org/agents/bench';
  const svidKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const bundle = { keys: [{ ...(await exportJWK(svidKey.publicKey)), kid: 'k1', use: 'jwt-svid' }] };
  const svid = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' })
    .setSubject(AGENT)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(svidKey.privateKey);

  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const guard = createGuard({
    audience: AUDIENCE,
    trust: { issuer: authority.issuer, jwks: authority.jwks() },
    identity: createJwtSvidVerifier({ audience: AUDIENCE, trustDomains: { 'example.org': bundle } }),
    requireIdentity: true,
  });
  const read = guardTool(
    guard,
    { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
    (args) => args.ticketId,
  );
  const key = await createAgentKey();
  const grant = (bound: boolean) =>
    authority.grant({
      agent: AGENT,
      audience: AUDIENCE,
      intent: { id: 'bench', purpose: 'Benchmark' },
      tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } } },
      ttl: '1h',
      ...(bound ? { confirmation: { jkt: key.jkt } } : {}),
    });
  const plain = await grant(false);
  const bound = await grant(true);
  const args = { ticketId: '4711' };

  const plainBinding = { capability: plain, identity: svid };
  await read(args, { capability: plainBinding });

  // Proofs made ahead of time, one per call, so the figure is the guard's side only.
  const iterations = 1000;
  const rounds = 9;
  const proofs: { callId: string; proof: string }[] = [];
  for (let i = 0; i < (rounds + 1) * iterations + 1; i++) {
    const callId = `c${i}`;
    proofs.push({ callId, proof: key.prove(createProofBinding({ capability: bound, tool: 'tickets.read', callId, args, audience: AUDIENCE })) });
  }
  const boundBinding = { capability: bound, identity: svid };
  let next = 0;
  const withProof = () => {
    const p = proofs[next++]!;
    return read(args, { capability: boundBinding, callId: p.callId, proof: p.proof });
  };
  await withProof();
  const proverBinding = { capability: bound, identity: svid, prover: key };
  const BASE = 'identity: allowed call, cached JWT-SVID, no cnf';
  const POP = 'identity: allowed call, cached JWT-SVID, PoP proof checked';
  const PROVER = 'identity: allowed call, PoP proof signed by the prover and checked';
  const r = await h.rounds(
    {
      [BASE]: () => read(args, { capability: plainBinding }),
      [POP]: withProof,
      [PROVER]: () => read(args, { capability: proverBinding }),
    },
    { iterations, rounds, warmup: iterations },
  );
  const baselineUs = r.us(BASE);
  const popUs = r.us(POP);
  const proverUs = r.us(PROVER);
  const popVsSign = r.ratio(POP);
  const popVsVerify = r.ratio(POP, { floor: FLOOR_VERIFY });
  h.note('identity: PoP-checked call / Ed25519 sign', `${popVsSign.toFixed(2)} (target <= 3.0); / Ed25519 verify ${popVsVerify.toFixed(2)}`);

  // The checker alone against one raw Ed25519 verification: the proof should cost about one verify.
  const checker = createProofChecker({ audience: AUDIENCE, clock: Date.now, clockSkewSec: 30 });
  const cap = (await guard.inspect(bound)) as VerifiedCapability;
  let k = 0;
  const CHECKER = 'identity: proof checker alone (one proof, cached key)';
  const c = await h.rounds(
    {
      [CHECKER]: () => {
        const p = proofs[k++ % proofs.length]!;
        return checker(cap, { capability: bound }, { tool: 'tickets.read', callId: p.callId, rawArgs: args, proof: p.proof });
      },
    },
    { iterations: 1000 },
  );
  const checkerUs = c.us(CHECKER);
  const checkerVsVerify = c.ratio(CHECKER, { floor: FLOOR_VERIFY });

  h.note('identity: PoP overhead per call', `${(popUs - baselineUs).toFixed(2)} µs`);
  return {
    identity_allow_us: round(baselineUs),
    pop_allow_us: round(popUs),
    pop_prover_allow_us: round(proverUs),
    pop_overhead_us: round(popUs - baselineUs),
    pop_checker_us: round(checkerUs),
    pop_checker_vs_ed25519_verify: round(checkerVsVerify),
    pop_allow_vs_ed25519_sign: round(popVsSign),
    pop_allow_vs_ed25519_verify: round(popVsVerify),
  };
}
