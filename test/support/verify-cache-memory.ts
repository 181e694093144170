/**
 * Run in its own process with --expose-gc: fills a capability verifier with N root grants and
 * prints the heap after a full GC and the cache's own estimate, as JSON.
 */
import { createAuthority } from '../../src/index.js';
import { createCapabilityVerifier } from '../../src/capability/verify.js';

const n = Number(process.argv[2]);
const authority = await createAuthority({ issuer: 'https://authz.example.com' });
const tokens: string[] = [];
for (let i = 0; i < n; i++) {
  tokens.push(
    await authority.grant({
      agent: 'spiffe://example.org/agents/support',
      audience: 'support-app',
      intent: { id: `ticket-${i}`, purpose: 'Answer the ticket' },
      tools: { 'tickets.read': { args: { ticketId: { startsWith: '47' } } }, 'email.send': { maxCalls: 1 } },
    }),
  );
}
const verifier = createCapabilityVerifier({
  audience: 'support-app',
  trust: [{ issuer: 'https://authz.example.com', jwks: authority.jwks() }],
  clock: Date.now,
  clockSkewSec: 30,
  maxLifetimeSec: 86_400,
  maxTokenBytes: 16_384,
  // 0 bytes: nothing is cached, the baseline run.
  cacheMaxBytes: process.argv[3] === 'empty' ? 0 : 1024 * 1024 * 1024,
});
for (const t of tokens) await verifier.verify(t);
const gc = (globalThis as { gc?: () => void }).gc!;
for (let i = 0; i < 4; i++) gc();
console.log(JSON.stringify({ heap: process.memoryUsage().heapUsed, ...verifier.cacheStats() }));
