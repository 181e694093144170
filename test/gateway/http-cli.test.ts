import { freePort } from '../support/environment.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseDenial } from '../../src/adapters/denial.js';
import type { Authority } from '../../src/index.js';
import { redisTestsEnabled, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { AUDIENCE, authority, grant, ISSUER, scratch, serverEntry, text, TSX_LOADER } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `tessera gateway` serving HTTP, as its own process; resolves once it says it is listening. */
async function serveCli(config: string, env: Record<string, string>): Promise<{ proc: ChildProcess; out: string }> {
  const proc = spawn(process.execPath, ['--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), 'gateway', '--config', config], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const out = await new Promise<string>((resolve, reject) => {
    let text = '';
    proc.stdout!.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      if (text.includes('\n')) resolve(text);
    });
    proc.once('exit', (code) => reject(new Error(`tessera gateway exited (${code})`)));
  });
  return { proc, out };
}

async function connect(url: string, capability: string): Promise<Client> {
  const client = new Client({ name: 'agent', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${capability}` } } }));
  return client;
}

describe('tessera gateway with an http section serves Streamable HTTP', () => {
  const dirs = scratch();
  let auth: Authority;
  const procs: ChildProcess[] = [];
  const memory = () => ({ stdio: { command: process.execPath, args: [serverEntry('server-memory')], env: { MEMORY_FILE_PATH: join(dirs.root, 'memory.json') } } });

  beforeAll(async () => {
    auth = await authority();
    writeFileSync(join(dirs.root, 'jwks.json'), JSON.stringify(auth.jwks()));
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGTERM');
    dirs.cleanup();
  });

  test('it listens, publishes its metadata, refuses a request without a capability and serves one with it', async () => {
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const config = join(dirs.root, 'http.json');
    writeFileSync(config, JSON.stringify({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: { file: 'jwks.json' } }, upstreams: { mem: memory() }, http: { port, resource } }));
    const { proc, out } = await serveCli(config, {});
    procs.push(proc);
    expect(out).toBe(`tessera gateway ${resource} listening on 127.0.0.1:${port} (9 tools)\n`);
    const metadata = (await (await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ resource, authorization_servers: [ISSUER] });
    const bare = await fetch(resource, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(bare.status).toBe(401);
    const client = await connect(resource, await grant(auth, { 'mem.read_graph': {} }));
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['mem.read_graph']);
      expect(JSON.parse(text(await client.callTool({ name: 'mem.read_graph', arguments: {} })))).toEqual({ entities: [], relations: [] });
    } finally {
      await client.close();
    }
  }, 60_000);

  describe.runIf(redisTestsEnabled())('two gateway processes sharing a Redis store', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer({ durable: false });
    });
    afterAll(async () => {
      await redis?.stop();
    });

    test('share one call budget: the second call, through the other gateway, is call_limit_exceeded', async () => {
      const urls: string[] = [];
      for (const name of ['a', 'b']) {
        const port = await freePort();
        const resource = `http://127.0.0.1:${port}/mcp`;
        const config = join(dirs.root, `redis-${name}.json`);
        writeFileSync(
          config,
          JSON.stringify({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: { file: 'jwks.json' } }, upstreams: { mem: memory() }, http: { port, resource }, store: { redis: { urlEnv: 'REDIS_URL' } } }),
        );
        procs.push((await serveCli(config, { REDIS_URL: redis.url })).proc);
        urls.push(resource);
      }
      const capability = await grant(auth, { 'mem.read_graph': { maxCalls: 1 } });
      const [a, b] = [await connect(urls[0]!, capability), await connect(urls[1]!, capability)];
      try {
        expect((await a.callTool({ name: 'mem.read_graph', arguments: {} })).isError).toBeFalsy();
        expect(parseDenial(await b.callTool({ name: 'mem.read_graph', arguments: {} }))?.code).toBe('call_limit_exceeded');
      } finally {
        await a.close();
        await b.close();
      }
    }, 90_000);
  });
});
