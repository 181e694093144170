/**
 * The authority service's token endpoint: real RFC 8693 token-exchange requests (a JWT-SVID
 * subject token, RFC 9396 authorization details) over loopback HTTP.
 *
 * - grants_per_s, grant_p99_ms_64: autocannon, 64 connections, against one server process
 *   (this file, forked with --authority-bench-server) on a memory store. Plain grants (no DPoP):
 *   autocannon cannot sign a fresh proof per request without taking CPU from the server on the
 *   same machine. Every request carries the same JWT-SVID, as one agent's requests do until it
 *   fetches a fresh one: the server verifies it once and reuses the identity (identityCacheSec).
 * - grant_p99_ms: the same requests from one connection, one at a time: the latency an agent
 *   sees from an authority that is not saturated. (With 64 requests in flight, latency is the
 *   queue: 64 / throughput on average, whatever the server does.)
 * - grant_vs_ed25519_sign: one request's time inside the server (its fetch handler, no network)
 *   against one raw node:crypto Ed25519 signature, timed in the same alternating rounds.
 */
import { fork } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { getRequestListener } from '@hono/node-server';
import { createAuthority } from '../../src/capability/authority.js';
import { createJwtSvidVerifier } from '../../src/identity/jwt-svid.js';
import { createAuthorityServer, type AuthorityServer } from '../../src/server/authority/index.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { createTestTrustDomain } from '../../test/identity/trust-domain.js';
import { median, perRoundMedian, round, type Floor, type Harness } from '../harness.js';

const AUTHZ_AUDIENCE = 'urn:tessera:authority';
const AGENT = 'spiffe://example.org/agents/bench';
const SERVER_FLAG = '--authority-bench-server';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number; p50: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

async function buildServer(issuer: string): Promise<{ server: AuthorityServer; body: string }> {
  const clock = Date.now;
  const td = await createTestTrustDomain('example.org', { clock, audience: AUTHZ_AUDIENCE });
  const store = createMemoryStore({ clock });
  const server = createAuthorityServer({
    authority: await createAuthority({ issuer, clock, store, maxTtl: '1h' }),
    identity: createJwtSvidVerifier({ audience: AUTHZ_AUDIENCE, trustDomains: { 'example.org': td.bundle() }, clock }),
    grantPolicy: {
      roles: [{ name: 'bench', match: [{ spiffe: AGENT }], ceiling: { tools: { 'tickets.read': { maxCalls: 100 } }, maxTtl: '15m' } }],
    },
    store,
    clock,
    // The bench is one agent asking as fast as it can: the per-agent limit would measure itself.
    rateLimit: { burst: 1_000_000, perMinute: 6_000_000 },
  });
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: await td.svid(AGENT, { ttl: 3600 }),
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience: 'support-app',
    authorization_details: JSON.stringify([
      { type: 'tessera_intent', id: 'bench', purpose: 'Benchmark' },
      { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 3 },
    ]),
    requested_ttl: '300',
  }).toString();
  return { server, body };
}

async function serveForBench(): Promise<void> {
  let handler: (request: Request) => Promise<Response> = async () => new Response(null, { status: 503 });
  const http = createServer(getRequestListener((request) => handler(request)));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const { server, body } = await buildServer(issuer);
  handler = (request) => server.fetch(request);
  process.send?.({ issuer, body });
  process.on('disconnect', () => {
    http.closeAllConnections();
    http.close();
  });
}

if (process.argv.includes(SERVER_FLAG)) await serveForBench();

export default async function authority(h: Harness, _floor: Floor): Promise<Record<string, number | string>> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const child = fork(fileURLToPath(import.meta.url), [SERVER_FLAG], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { issuer, body } = await new Promise<{ issuer: string; body: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { issuer: string; body: string }));
      child.once('exit', (code) => reject(new Error(`the authority bench server exited (${code})`)));
    });
    const fire = (duration: number, connections = 64) =>
      autocannon({
        url: `${issuer}/token`,
        method: 'POST',
        connections,
        duration,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    await fire(2); // warm-up
    const rates: number[] = [];
    const p99s: number[] = [];
    for (let r = 0; r < 3; r++) {
      const result = await fire(4);
      if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
        throw new Error(`the token endpoint refused or failed requests (${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts)`);
      }
      rates.push(result.requests.average);
      p99s.push(result.latency.p99);
    }
    const single: number[] = [];
    for (let r = 0; r < 3; r++) {
      const result = await fire(3, 1);
      if (result.non2xx > 0 || result.errors > 0) throw new Error('the token endpoint refused or failed requests from one connection');
      single.push(result.latency.p99);
    }
    const grantsPerS = median(rates);
    const p99Loaded = median(p99s);
    const p99 = median(single);
    h.note('authority: grants/s (64 connections, loopback, 3 rounds)', `${Math.round(grantsPerS).toLocaleString('en-US')} (range ${Math.round(Math.min(...rates))}–${Math.round(Math.max(...rates))})`);
    h.note('authority: grant p99 latency (1 connection)', `${p99} ms (range ${Math.min(...single)}–${Math.max(...single)})`);
    h.note('authority: grant p99 latency (64 connections)', `${p99Loaded} ms (range ${Math.min(...p99s)}–${Math.max(...p99s)})`);

    // One request's server time, no network, against one raw Ed25519 signature.
    const local = await buildServer('http://127.0.0.1:1');
    const request = () =>
      local.server.fetch(new Request('http://127.0.0.1:1/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: local.body }));
    const probe = await request();
    if (probe.status !== 200) throw new Error(`the in-process token endpoint answered ${probe.status}`);
    const { privateKey } = generateKeyPairSync('ed25519');
    const data = Buffer.from('a'.repeat(300));
    const series = await h.interleaved(
      { 'authority: one grant, server time (in process)': request, 'authority: raw Ed25519 sign (same rounds)': () => sign(null, data, privateKey) },
      { iterations: 300, rounds: 9, warmup: 300 },
    );
    const ratio = perRoundMedian(series, (at) => at('authority: one grant, server time (in process)') / at('authority: raw Ed25519 sign (same rounds)'));
    h.note('authority: one grant / one Ed25519 signature', `${ratio.toFixed(1)}×`);
    return { grants_per_s: Math.round(grantsPerS), grant_p99_ms: round(p99), grant_p99_ms_64: round(p99Loaded), grant_vs_ed25519_sign: round(ratio, 1) };
  } finally {
    if (child.connected) child.disconnect();
    child.kill();
  }
}
