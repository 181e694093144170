/** examples/gateway/ as its comments say to use it: keys, a grant from the spec, the desktop client's launch. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, describe, expect, test } from 'vitest';
import { parseDenial } from '../../src/adapters/denial.js';
import { runCli } from '../../src/cli/run.js';
import { scratch, serverEntry, text, TSX_LOADER } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/gateway');

describe('examples/gateway', () => {
  const dirs = scratch();
  afterAll(() => dirs.cleanup());

  test('the desktop client launches the gateway it configures, and only the spec\'s grant is reachable', async () => {
    const home = join(dirs.root, 'tessera');
    mkdirSync(home);
    mkdirSync(join(dirs.allowed, 'src'));
    // The example with this machine's paths in place of /home/me/...
    const here = (s: string) =>
      s
        .replaceAll('/home/me/project', dirs.allowed)
        .replace('command: node', `command: ${process.execPath}`)
        .replace('node_modules/@modelcontextprotocol/server-filesystem/dist/index.js', serverEntry('server-filesystem'));
    writeFileSync(join(home, 'gateway.yaml'), here(readFileSync(join(EXAMPLE, 'gateway.yaml'), 'utf8')));
    writeFileSync(join(home, 'capability-spec.yaml'), here(readFileSync(join(EXAMPLE, 'capability-spec.yaml'), 'utf8')));
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(`ERR ${t}`), readStdin: async () => '', cwd: home, env: {}, clock: Date.now };
    expect(await runCli(['keys', 'generate', '--out', 'authority.key.json'], io)).toBe(0);
    writeFileSync(join(home, 'authority.jwks.json'), out.filter((t) => !t.startsWith('ERR ')).join(''));
    out.length = 0; expect(await runCli(['grant', '--key', 'authority.key.json', '--out', 'capability.jwt', 'capability-spec.yaml'], io)).toBe(0);

    const desktop = JSON.parse(readFileSync(join(EXAMPLE, 'desktop-client.json'), 'utf8')) as { mcpServers: Record<string, { command: string; args: string[]; cwd: string }> };
    const server = desktop.mcpServers['project-files']!;
    expect(server.command).toBe('npx');
    expect(server.args.slice(0, 3)).toEqual(['tessera', 'gateway', '--config']);
    // `npx tessera` runs the package's bin; from this repository the same command runs from source.
    const client = new Client({ name: 'desktop', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ['--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), 'gateway', '--config', join(home, 'gateway.yaml')],
        cwd: home,
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' },
        stderr: 'ignore',
      }),
    );
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['fs.list_directory', 'fs.read_text_file', 'fs.write_file']);
      expect(text(await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(dirs.allowed, 'notes.txt') } }))).toBe('inside the project\n');
      expect(parseDenial(await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(dirs.other, 'key.txt') } }))?.code).toBe('arguments_out_of_scope');
      expect(parseDenial(await client.callTool({ name: 'fs.move_file', arguments: { source: join(dirs.allowed, 'notes.txt'), destination: join(dirs.allowed, 'x') } }))?.code).toBe('tool_not_granted');
    } finally {
      await client.close();
    }
  }, 60_000);
});
