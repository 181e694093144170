import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseDenial } from '../../src/adapters/denial.js';
import type { Authority } from '../../src/index.js';
import { AUDIENCE, authority, grant, ISSUER, scratch, serverEntry, text, TSX_LOADER } from './support.js';

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
      const { existsSync } = await import('node:fs');
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
