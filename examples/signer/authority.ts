/**
 * The authority process: it signs capabilities through the signing process (signer.ts) and never
 * holds the private key. Its whole configuration is TESSERA_SIGNER_URL and TESSERA_SIGNER_SECRET,
 * the bearer token the signer expects. It grants one capability and prints one line:
 * {"capability": ..., "jwks": ...}; a real authority would serve grants (createAuthorityServer).
 */
import { createAuthority } from '../../src/index.js';
import type { CapabilitySigner } from '../../src/server/authority/index.js';

const url = process.env.TESSERA_SIGNER_URL;
const secret = process.env.TESSERA_SIGNER_SECRET;
if (url === undefined || secret === undefined) {
  console.error('authority: set TESSERA_SIGNER_URL and TESSERA_SIGNER_SECRET');
  process.exit(2);
}
const auth = { authorization: `Bearer ${secret}` };

const jwkResponse = await fetch(`${url}/public-jwk`, { headers: auth, signal: AbortSignal.timeout(5000) });
if (!jwkResponse.ok) throw new Error(`the signer refused GET /public-jwk (${jwkResponse.status})`);

const signer: CapabilitySigner = {
  publicJwk: (await jwkResponse.json()) as CapabilitySigner['publicJwk'],
  async sign(signingInput) {
    // The authority puts its own deadline (signerTimeoutMs) on this call and checks the
    // signature against publicJwk before any token leaves it.
    const res = await fetch(`${url}/sign`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: signingInput });
    if (!res.ok) throw new Error(`the signer answered ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  },
};

const authority = await createAuthority({ issuer: 'https://authz.example.com', signer, signerTimeoutMs: 2000 });
const capability = await authority.grant({
  agent: 'spiffe://example.org/agents/support',
  audience: 'support-app',
  intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
  tools: { 'tickets.read': { args: { ticketId: { eq: 'T-4711' } }, maxCalls: 2 } },
  ttl: '5m',
});
console.log(JSON.stringify({ capability, jwks: authority.jwks() }));
