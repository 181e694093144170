import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseDenial } from '../../src/adapters/denial.js';
import type { Authority } from '../../src/index.js';
import { runCli } from '../../src/cli/run.js';
import { startAuthority } from '../client/support.js';
import { decide } from '../../src/server/approvals/decide.js';
import { createMemoryApprovalsStore } from '../../src/server/approvals/store.js';
import { AGENT as APPROVALS_AGENT, BOB, startService, trustDomain as approvalsTrustDomain } from '../server/approvals/support.js';
import { AGENT, AUDIENCE, authority, grant, ISSUER, scratch, serverEntry, text, TSX_LOADER } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The `tessera gateway` command, launched as a desktop client launches an MCP server. */
async function launch(config: string, env: Record<string, string>, elicit?: (message: string) => { action: 'accept' | 'decline'; content?: Record<string, unknown> }) {
  const client = new Client({ name: 'desktop', version: '1' }, elicit === undefined ? {} : { capabilities: { elicitation: { form: {} } } });
  if (elicit !== undefined) client.setRequestHandler(ElicitRequestSchema, (request) => elicit((request.params as { message: string }).message));
  const stderr: string[] = [];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), 'gateway', '--config', config],
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    cwd: ROOT,
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (d: Buffer) => stderr.push(d.toString('utf8')));
  await client.connect(transport);
  return { client, stderr };
}

describe('tessera gateway over stdio, the filesystem server upstream', () => {
  const dirs = scratch();
  let auth: Authority;
  let config: string;

  beforeAll(async () => {
    auth = await authority();
    writeFileSync(join(dirs.root, 'jwks.json'), JSON.stringify(auth.jwks()));
    config = join(dirs.root, 'gateway.json');
    writeFileSync(
      config,
      JSON.stringify({
        audience: AUDIENCE,
        trust: { issuer: ISSUER, jwks: { file: 'jwks.json' } },
        capability: { env: 'TESSERA_CAPABILITY' },
        upstreams: { fs: { stdio: { command: process.execPath, args: [serverEntry('server-filesystem'), dirs.root] } } },
      }),
    );
  });
  afterAll(() => dirs.cleanup());

  test('lists only the granted tools and enforces pathWithin on real reads', async () => {
    const capability = await grant(auth, { 'fs.read_text_file': { args: { path: { pathWithin: dirs.allowed } } } });
    const { client, stderr } = await launch(config, { TESSERA_CAPABILITY: capability });
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['fs.read_text_file']);
      expect(text(await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(dirs.allowed, 'notes.txt') } }))).toBe('inside the project\n');
      expect(parseDenial(await client.callTool({ name: 'fs.read_text_file', arguments: { path: `${dirs.allowed}/../secrets/key.txt` } }))?.code).toBe('arguments_out_of_scope');
      expect(parseDenial(await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(dirs.other, 'key.txt') } }))?.code).toBe('arguments_out_of_scope');
      expect(parseDenial(await client.callTool({ name: 'fs.list_directory', arguments: { path: dirs.allowed } }))?.code).toBe('tool_not_granted');
      // Diagnostics never carry the capability.
      expect(stderr.join('')).not.toContain(capability.split('.')[2]!);
    } finally {
      await client.close();
    }
  }, 60_000);

  test('a high-risk call asks the client by MCP elicitation: declined is approval_denied, accepted writes the file', async () => {
    const capability = await grant(auth, { 'fs.write_file': { args: { path: { pathWithin: dirs.allowed } } } });
    const answers: Array<'accept' | 'decline'> = ['decline', 'accept'];
    const asked: string[] = [];
    const { client } = await launch(config, { TESSERA_CAPABILITY: capability }, (message) => {
      asked.push(message);
      const action = answers.shift()!;
      return action === 'accept' ? { action, content: { approve: true } } : { action };
    });
    try {
      const target = join(dirs.allowed, 'written.txt');
      const declined = await client.callTool({ name: 'fs.write_file', arguments: { path: target, content: 'hello' } });
      expect(parseDenial(declined)?.code).toBe('approval_denied');
      const accepted = await client.callTool({ name: 'fs.write_file', arguments: { path: target, content: 'hello' } });
      expect(accepted.isError).toBeFalsy();
      expect(asked).toHaveLength(2);
      expect(asked[0]).toMatch(/^Approve "fs.write_file" \(admin\) for intent "fix-1"\?/);
      expect(readFileSync(target, 'utf8')).toBe('hello');
    } finally {
      await client.close();
    }
  }, 60_000);

  test('without elicitation and without an approver, a high-risk call is approval_denied and nothing is written', async () => {
    const capability = await grant(auth, { 'fs.write_file': { args: { path: { pathWithin: dirs.allowed } } } });
    const { client } = await launch(config, { TESSERA_CAPABILITY: capability });
    try {
      const result = await client.callTool({ name: 'fs.write_file', arguments: { path: join(dirs.allowed, 'never.txt'), content: 'x' } });
      expect(parseDenial(result)?.code).toBe('approval_denied');
      expect(existsSync(join(dirs.allowed, 'never.txt'))).toBe(false);
    } finally {
      await client.close();
    }
  }, 60_000);

  test('with no capability configured, tools/list is empty and a call is capability_missing', async () => {
    const { client } = await launch(config, {});
    try {
      expect((await client.listTools()).tools).toEqual([]);
      const result = await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(dirs.allowed, 'notes.txt') } });
      expect(parseDenial(result)?.code).toBe('capability_missing');
    } finally {
      await client.close();
    }
  }, 60_000);
});

describe('tessera gateway: where the capability comes from, and a config it refuses', () => {
  const dirs = scratch();
  afterAll(() => dirs.cleanup());
  const memory = { stdio: { command: process.execPath, args: [serverEntry('server-memory')], env: { MEMORY_FILE_PATH: join(dirs.root, 'memory.json') } } };

  test('a capability file is read again at every request: a new grant written to it is used from the next request', async () => {
    const auth = await authority();
    writeFileSync(join(dirs.root, 'jwks.json'), JSON.stringify(auth.jwks()));
    const config = join(dirs.root, 'file.json');
    writeFileSync(config, JSON.stringify({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: { file: 'jwks.json' } }, capability: { file: 'cap.jwt' }, upstreams: { mem: memory } }));
    writeFileSync(join(dirs.root, 'cap.jwt'), `${await grant(auth, { 'mem.read_graph': {} })}\n`);
    const { client } = await launch(config, {});
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['mem.read_graph']);
      writeFileSync(join(dirs.root, 'cap.jwt'), await grant(auth, { 'mem.search_nodes': {} }));
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['mem.search_nodes']);
      expect(parseDenial(await client.callTool({ name: 'mem.read_graph', arguments: {} }))?.code).toBe('tool_not_granted');
    } finally {
      await client.close();
    }
  }, 60_000);

  test('a capability that does not verify: tools/list is empty and a call is denied capability_invalid', async () => {
    const auth = await authority();
    writeFileSync(join(dirs.root, 'jwks.json'), JSON.stringify(auth.jwks()));
    const config = join(dirs.root, 'env.json');
    writeFileSync(config, JSON.stringify({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: { file: 'jwks.json' } }, capability: { env: 'CAP' }, upstreams: { mem: memory } }));
    const elsewhere = await grant(auth, { 'mem.read_graph': {} }, { audience: 'another-gateway' });
    const { client } = await launch(config, { CAP: elsewhere });
    try {
      expect((await client.listTools()).tools).toEqual([]);
      expect(parseDenial(await client.callTool({ name: 'mem.read_graph', arguments: {} }))?.code).toBe('capability_invalid');
    } finally {
      await client.close();
    }
  }, 60_000);

  test('requested from the authority service with the workload identity token', async () => {
    const live = await startAuthority({
      server: { grantPolicy: { roles: [{ name: 'desktop', match: [{ spiffe: AGENT }], ceiling: { tools: { 'mem.read_graph': { maxCalls: 5 } }, maxTtl: '15m' } }] } },
    });
    try {
      writeFileSync(join(dirs.root, 'svid.jwt'), await live.svid(AGENT));
      const config = join(dirs.root, 'request.json');
      writeFileSync(
        config,
        JSON.stringify({
          audience: AUDIENCE,
          trust: { issuer: live.issuer },
          capability: {
            request: { authority: live.issuer, identityToken: { file: 'svid.jwt' }, intent: { id: 'fix-1', purpose: 'Fix issue 1' }, tools: { 'mem.read_graph': { maxCalls: 5 } }, ttl: '5m' },
          },
          upstreams: { mem: memory },
        }),
      );
      const { client } = await launch(config, {});
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['mem.read_graph']);
        const result = await client.callTool({ name: 'mem.read_graph', arguments: {} });
        expect(result.isError).toBeFalsy();
        expect(live.hits).toContain('/token');
      } finally {
        await client.close();
      }
    } finally {
      await live.close();
    }
  }, 60_000);

  test('hidden upstream tools are named on standard error, with the reason', async () => {
    const auth = await authority();
    writeFileSync(join(dirs.root, 'jwks.json'), JSON.stringify(auth.jwks()));
    const config = join(dirs.root, 'edge.json');
    const edge = fileURLToPath(new URL('./fixtures/edge-server.mjs', import.meta.url));
    writeFileSync(config, JSON.stringify({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: { file: 'jwks.json' } }, upstreams: { edge: { stdio: { command: process.execPath, args: [edge] } } } }));
    const { client, stderr } = await launch(config, {});
    try {
      await client.listTools();
      expect(stderr.join('').split('\n')).toContain('tessera gateway: tool "edge.conditional" of upstream "edge" is hidden: inputSchema.if: the keyword "if" is not enforced, so the schema is refused');
    } finally {
      await client.close();
    }
  }, 60_000);

  test('an unknown key in the config is refused, naming it, and nothing starts', async () => {
    const config = join(dirs.root, 'typo.json');
    writeFileSync(config, JSON.stringify({ audience: AUDIENCE, trust: { issuer: ISSUER }, upstreams: { mem: { ...memory, risks: 'read' } } }));
    const err: string[] = [];
    const code = await runCli(['gateway', '--config', config], { stdout: () => undefined, stderr: (t) => err.push(t), readStdin: async () => '', cwd: dirs.root, env: {}, clock: Date.now });
    expect(code).toBe(1);
    expect(err.join('')).toBe(`tessera gateway: config ${config}: config.upstreams.mem: Unrecognized key: "risks" ("risks")\n`);
  });
});

describe('tessera gateway: a client without elicitation, and the approvals service', () => {
  const dirs = scratch();
  afterAll(() => dirs.cleanup());

  test("the remote approver asks the approvals service; a person's approval lets the write through, a refusal denies it", async () => {
    const td = await approvalsTrustDomain();
    const store = createMemoryApprovalsStore();
    const svc = await startService(td, store);
    const auth = await authority();
    try {
      writeFileSync(join(dirs.root, 'jwks.json'), JSON.stringify(auth.jwks()));
      writeFileSync(join(dirs.root, 'svid.jwt'), await td.svid(APPROVALS_AGENT));
      const config = join(dirs.root, 'approvals.json');
      writeFileSync(
        config,
        JSON.stringify({
          audience: AUDIENCE,
          trust: { issuer: ISSUER, jwks: { file: 'jwks.json' } },
          capability: { env: 'CAP' },
          approvals: { url: svc.base, identityToken: { file: 'svid.jwt' } },
          upstreams: { fs: { stdio: { command: process.execPath, args: [serverEntry('server-filesystem'), dirs.root] } } },
        }),
      );
      const { client } = await launch(config, { CAP: await grant(auth, { 'fs.write_file': { args: { path: { pathWithin: dirs.allowed } } } }) });
      const answer = async (outcome: 'approved' | 'denied'): Promise<void> => {
        const pending = await expect.poll(async () => (await store.listPending(Date.now()))[0], { timeout: 20_000 }).toBeDefined().then(async () => (await store.listPending(Date.now()))[0]!);
        expect(pending.tool).toBe('fs.write_file');
        await decide(store, { id: pending.id, approverIdentity: BOB, approverRoles: ['support-approvers'], outcome, ...(outcome === 'denied' ? { reason: 'not today' } : {}), now: Date.now() });
      };
      try {
        const target = join(dirs.allowed, 'approved.txt');
        const [approved] = await Promise.all([client.callTool({ name: 'fs.write_file', arguments: { path: target, content: 'yes' } }), answer('approved')]);
        expect(approved.isError).toBeFalsy();
        expect(readFileSync(target, 'utf8')).toBe('yes');
        const [refused] = await Promise.all([client.callTool({ name: 'fs.write_file', arguments: { path: join(dirs.allowed, 'refused.txt'), content: 'no' } }), answer('denied')]);
        expect(parseDenial(refused)?.code).toBe('approval_denied');
        expect(existsSync(join(dirs.allowed, 'refused.txt'))).toBe(false);
      } finally {
        await client.close();
      }
    } finally {
      await svc.close();
    }
  }, 90_000);
});
