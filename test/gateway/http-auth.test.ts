import { createHash, randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseDenial } from '../../src/adapters/denial.js';
import { CALL_ID_META_KEY, PROOF_META_KEY } from '../../src/gateway/index.js';
import { createAgentKey, createProofBinding, type AgentKey, type Authority } from '../../src/index.js';
import { AGENT, AUDIENCE, authority, gatewayOptions, grant, ISSUER, serveHttp, serverEntry, text, type HttpGateway } from './support.js';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } } };
const post = (url: string, headers: Record<string, string>, body: unknown = INIT) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });

async function dpopProof(key: AgentKey, htu: string, capability: string, htm = 'POST', iat = Math.floor(Date.now() / 1000)): Promise<string> {
  return new SignJWT({ htm, htu, ath: createHash('sha256').update(capability).digest('base64url'), jti: randomUUID() })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk: key.publicJwk })
    .setIssuedAt(iat)
    .sign(key.signingKey.privateKey);
}

describe('the gateway over HTTP is an OAuth protected resource', () => {
  let auth: Authority;
  let gw: HttpGateway;
  let metadataUrl: string;

  beforeAll(async () => {
    auth = await authority();
    gw = await serveHttp(gatewayOptions(auth, { mem: { stdio: { command: process.execPath, args: [serverEntry('server-memory')], env: { MEMORY_FILE_PATH: '/tmp/tessera-gw-memory-unused.json' } } } }));
    metadataUrl = gw.url.replace('/mcp', '/.well-known/oauth-protected-resource/mcp');
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
  });

  test('RFC 9728 metadata names the resource and the Tessera authority', async () => {
    expect(gw.handler.metadataUrl).toBe(metadataUrl);
    const res = await fetch(metadataUrl);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      resource: gw.url,
      authorization_servers: [ISSUER],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: ['EdDSA', 'ES256'],
      resource_name: 'Tessera MCP gateway',
    });
  });

  test('no token: 401 with a WWW-Authenticate pointing at the metadata', async () => {
    const res = await post(gw.url, {});
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadataUrl}"`);
  });

  test('a capability for another audience: 401 invalid_token naming both audiences, and the SDK client cannot connect', async () => {
    const other = await auth.grant({ agent: AGENT, audience: 'another-gateway', intent: { id: 'fix-1', purpose: 'Fix' }, tools: { 'mem.read_graph': {} }, ttl: '5m' });
    const res = await post(gw.url, { Authorization: `Bearer ${other}` });
    expect(res.status).toBe(401);
    const header = res.headers.get('www-authenticate')!;
    expect(header).toMatch(/^Bearer error="invalid_token", error_description="[^"]*another-gateway[^"]*", resource_metadata="/);
    expect(header).toContain(AUDIENCE);
    expect(header.endsWith(`resource_metadata="${metadataUrl}"`)).toBe(true);
    expect(header).not.toContain(other.split('.')[2]!);
    await expect(gw.connect(other)).rejects.toThrow(/invalid_token/);
  });

  test('a token that is not a capability: 401 invalid_token', async () => {
    const res = await post(gw.url, { Authorization: 'Bearer not-a-jwt' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  test("a session is not reachable with another agent's capability", async () => {
    const mine = await grant(auth, { 'mem.read_graph': {} });
    const theirs = await grant(auth, { 'mem.read_graph': {} }, { agent: 'spiffe://example.org/agents/other' });
    const opened = await post(gw.url, { Authorization: `Bearer ${mine}` });
    expect(opened.status).toBe(200);
    const session = opened.headers.get('mcp-session-id')!;
    await opened.body?.cancel();
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
    const hijack = await post(gw.url, { Authorization: `Bearer ${theirs}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }, list);
    expect(hijack.status).toBe(404);
  });

  test('a call through memory runs with the bearer capability; a tool it does not grant is tool_not_granted', async () => {
    const client = await gw.connect(await grant(auth, { 'mem.read_graph': {}, 'mem.search_nodes': {} }));
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['mem.read_graph', 'mem.search_nodes']);
    const graph = await client.callTool({ name: 'mem.read_graph', arguments: {} });
    expect(graph.isError).toBeFalsy();
    expect(JSON.parse(text(graph))).toEqual({ entities: [], relations: [] });
    const denied = await client.callTool({ name: 'mem.create_entities', arguments: { entities: [] } });
    expect(parseDenial(denied)?.code).toBe('tool_not_granted');
  });

  describe('a capability bound to the agent key', () => {
    let key: AgentKey;
    let bound: string;
    beforeAll(async () => {
      key = await createAgentKey();
      bound = await grant(auth, { 'mem.read_graph': {} }, { confirmation: { jkt: key.jkt } });
    });

    test('as a Bearer token: 401 with a DPoP challenge', async () => {
      const res = await post(gw.url, { Authorization: `Bearer ${bound}` });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(
        `DPoP error="invalid_token", error_description="the capability is bound to a key (cnf.jkt): present it with the DPoP scheme and a DPoP proof", resource_metadata="${metadataUrl}", algs="EdDSA ES256"`,
      );
    });

    test('with a DPoP proof from another key: 401 invalid_dpop_proof', async () => {
      const thief = await createAgentKey();
      const res = await post(gw.url, { Authorization: `DPoP ${bound}`, DPoP: await dpopProof(thief, gw.url, bound) });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof", error_description="the DPoP proof is signed by another key than the capability's cnf.jkt"/);
    });

    test('a DPoP proof for another URL, another capability or made 61 s ago: 401 invalid_dpop_proof', async () => {
      const other = await grant(auth, { 'mem.read_graph': {} }, { confirmation: { jkt: key.jkt } });
      const cases: Array<[string, string]> = [
        [await dpopProof(key, 'http://127.0.0.1:1/mcp', bound), 'htu must be exactly'],
        [await dpopProof(key, gw.url, other), "ath is not the hash of this capability"],
        [await dpopProof(key, gw.url, bound, 'POST', Math.floor(Date.now() / 1000) - 61), 'iat is more than 60s'],
      ];
      for (const [proof, why] of cases) {
        const res = await post(gw.url, { Authorization: `DPoP ${bound}`, DPoP: proof });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof", error_description="/);
        expect(res.headers.get('www-authenticate')).toContain(why);
      }
    });

    test('a replayed DPoP proof: 401 invalid_dpop_proof', async () => {
      const proof = await dpopProof(key, gw.url, bound);
      const first = await post(gw.url, { Authorization: `DPoP ${bound}`, DPoP: proof });
      expect(first.status).toBe(200);
      await first.body?.cancel();
      const again = await post(gw.url, { Authorization: `DPoP ${bound}`, DPoP: proof });
      expect(again.status).toBe(401);
      expect(again.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof", error_description="this DPoP proof was already used/);
    });

    test('with a DPoP proof per request and a proof of possession per call, the call runs; without the per-call proof it is proof_invalid', async () => {
      const client = new Client({ name: 'dpop-agent', version: '1' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(gw.url), {
          fetch: async (url, init) => {
            const headers = new Headers(init?.headers);
            headers.set('Authorization', `DPoP ${bound}`);
            headers.set('DPoP', await dpopProof(key, gw.url, bound, init?.method ?? 'GET'));
            return fetch(url, { ...init, headers });
          },
        }),
      );
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['mem.read_graph']);
        const unproven = await client.callTool({ name: 'mem.read_graph', arguments: {} });
        expect(parseDenial(unproven)?.code).toBe('proof_invalid');
        const callId = randomUUID();
        const proof = key.prove(createProofBinding({ tool: 'mem.read_graph', callId, args: {}, capability: bound, audience: AUDIENCE }));
        const proven = await client.callTool({ name: 'mem.read_graph', arguments: {}, _meta: { [PROOF_META_KEY]: proof, [CALL_ID_META_KEY]: callId } });
        expect(proven.isError).toBeFalsy();
        expect(JSON.parse(text(proven))).toEqual({ entities: [], relations: [] });
      } finally {
        await client.close();
      }
    });
  });
});
