/**
 * Two agents share one process: a support agent and a billing agent, each with its own SPIFFE ID
 * (proven by a JWT-SVID) and its own key. Each holds a capability bound to its identity and its
 * key. Neither can use the other's capability: presenting it under its own identity is
 * `identity_mismatch`, and even with the other's identity token in hand, it lacks the key
 * (`proof_invalid`).
 *
 * Run: npx tsx examples/two-agents.ts
 *
 * The trust domain here is a stand-in for SPIRE: it signs JWT-SVIDs with an ES256 key and
 * publishes its bundle as a JWKS with `use: "jwt-svid"`. With SPIRE, the agent runtime would
 * fetch its JWT-SVID from the Workload API and the guard would load the bundle from SPIRE's
 * bundle endpoint (a URL) or a file the SPIRE agent writes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { z } from 'zod';
import {
  createAgentKey,
  createAuthority,
  createGuard,
  createJwtSvidVerifier,
  ToolDeniedError,
  type AgentKey,
  type CapabilityContext,
  guardTool,
} from '../src/index.js';

const GUARD = 'crm-app';
const SUPPORT = 'spiffe://example.org/agents/support';
const BILLING = 'spiffe://example.org/agents/billing';

// A stand-in for the SPIRE server of trust domain example.org.
const svidKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const bundle = { keys: [{ ...(await exportJWK(svidKey.publicKey)), kid: 'spire-1', use: 'jwt-svid' }] };
const fetchJwtSvid = (spiffeId: string, audience: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'spire-1', typ: 'JWT' })
    .setSubject(spiffeId)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(svidKey.privateKey);

// The control plane grants only to agents that prove who they are.
const authority = await createAuthority({
  issuer: 'https://authz.example.com',
  identity: createJwtSvidVerifier({ audience: 'urn:example:authz', trustDomains: { 'example.org': bundle } }),
  requireAgentToken: true,
});

// The data plane verifies the identity running each call and the proof of possession.
const guard = createGuard({
  audience: GUARD,
  trust: { issuer: authority.issuer, jwks: () => authority.jwks() },
  identity: createJwtSvidVerifier({ audience: GUARD, trustDomains: { 'example.org': bundle } }),
  requireIdentity: true,
});

const lookupCustomer = guardTool(
  guard,
  { name: 'crm.lookup', description: 'Look up a customer', input: z.object({ customerId: z.string() }), risk: 'read' },
  async (args, ctx) => ({ customerId: args.customerId, lookedUpBy: ctx.agent.id }),
);

interface Agent {
  name: string;
  spiffeId: string;
  key: AgentKey;
  capability: string;
  identity: string;
}

async function startAgent(name: string, spiffeId: string, customerId: string): Promise<Agent> {
  const key = await createAgentKey();
  const capability = await authority.grant({
    agent: spiffeId,
    agentToken: await fetchJwtSvid(spiffeId, 'urn:example:authz'),
    audience: GUARD,
    intent: { id: `${name}-task`, purpose: `${name} works on customer ${customerId}` },
    tools: { 'crm.lookup': { args: { customerId: { eq: customerId } } } },
    confirmation: { jkt: key.jkt },
    ttl: '5m',
  });
  return { name, spiffeId, key, capability, identity: await fetchJwtSvid(spiffeId, GUARD) };
}

async function attempt(label: string, binding: CapabilityContext, customerId: string): Promise<void> {
  try {
    const r = await guard.withCapability(binding, () => lookupCustomer({ customerId }));
    console.log(`  allowed  ${label}: looked up ${r.customerId} as ${r.lookedUpBy}`);
  } catch (err) {
    if (!(err instanceof ToolDeniedError)) throw err;
    console.log(`  denied   ${label}: ${err.code} (${err.reason})`);
  }
}

const support = await startAgent('support', SUPPORT, 'cust-1');
const billing = await startAgent('billing', BILLING, 'cust-2');

console.log('Each agent with its own capability, identity and key:');
await attempt('support uses its capability', { capability: support.capability, identity: support.identity, prover: support.key }, 'cust-1');
await attempt('billing uses its capability', { capability: billing.capability, identity: billing.identity, prover: billing.key }, 'cust-2');

console.log("\nBilling tries support's capability:");
await attempt('as itself', { capability: support.capability, identity: billing.identity, prover: billing.key }, 'cust-1');
await attempt("with support's stolen SVID, but its own key", { capability: support.capability, identity: support.identity, prover: billing.key }, 'cust-1');
await attempt("with support's stolen SVID and no key at all", { capability: support.capability, identity: support.identity }, 'cust-1');
