import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseDenial } from '../../src/adapters/denial.js';
import type { Authority } from '../../src/index.js';
import { authority, gatewayOptions, grant, scratch, serveHttp, serverEntry, text, type HttpGateway } from './support.js';

describe('the filesystem server behind the gateway, over Streamable HTTP', () => {
  const dirs = scratch();
  let auth: Authority;
  let gw: HttpGateway;

  beforeAll(async () => {
    auth = await authority();
    gw = await serveHttp(
      gatewayOptions(auth, {
        fs: { stdio: { command: process.execPath, args: [serverEntry('server-filesystem'), dirs.root] } },
      }),
    );
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    dirs.cleanup();
  });

  const fsGrant = () =>
    grant(auth, {
      'fs.read_text_file': { args: { path: { pathWithin: dirs.allowed } } },
      'fs.list_directory': { args: { path: { pathWithin: dirs.allowed } } },
    });

  test('tools/list shows exactly the granted tools', async () => {
    const client = await gw.connect(await fsGrant());
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['fs.list_directory', 'fs.read_text_file']);
  });

  test('a read inside the granted directory runs at the real server', async () => {
    const client = await gw.connect(await fsGrant());
    const result = await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(dirs.allowed, 'notes.txt') } });
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe('inside the project\n');
  });

  test('a ../ escape is denied arguments_out_of_scope before the server sees it', async () => {
    const client = await gw.connect(await fsGrant());
    const result = await client.callTool({ name: 'fs.read_text_file', arguments: { path: `${dirs.allowed}/../secrets/key.txt` } });
    expect(parseDenial(result)?.code).toBe('arguments_out_of_scope');
  });

  test('another directory the server itself allows is denied arguments_out_of_scope', async () => {
    const client = await gw.connect(await fsGrant());
    const result = await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(dirs.other, 'key.txt') } });
    expect(parseDenial(result)?.code).toBe('arguments_out_of_scope');
    expect(text(result)).not.toContain('do not read');
  });

  test('an ungranted tool called anyway is denied tool_not_granted', async () => {
    const client = await gw.connect(await fsGrant());
    const result = await client.callTool({ name: 'fs.write_file', arguments: { path: join(dirs.allowed, 'x.txt'), content: 'x' } });
    expect(parseDenial(result)?.code).toBe('tool_not_granted');
  });
});

describe('shadow mode per upstream and per tool', () => {
  const dirs = scratch();
  let auth: Authority;
  let gw: HttpGateway;

  beforeAll(async () => {
    auth = await authority();
    gw = await serveHttp(
      gatewayOptions(auth, {
        // Every tool of this upstream in shadow mode but list_directory, which its own entry enforces.
        shadowed: {
          stdio: { command: process.execPath, args: [serverEntry('server-filesystem'), dirs.root] },
          mode: 'shadow',
          tools: { list_directory: { mode: 'enforce' } },
        },
        enforced: { stdio: { command: process.execPath, args: [serverEntry('server-filesystem'), dirs.root] } },
      }),
    );
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    dirs.cleanup();
  });

  const within = () => ({ args: { path: { pathWithin: dirs.allowed } } });

  test('a read outside the grant is forwarded by the shadowed upstream and denied by the enforced one', async () => {
    const client = await gw.connect(
      await grant(auth, { 'shadowed.read_text_file': within(), 'shadowed.list_directory': within(), 'enforced.read_text_file': within() }),
    );
    const outside = join(dirs.other, 'key.txt');
    const shadowed = await client.callTool({ name: 'shadowed.read_text_file', arguments: { path: outside } });
    expect(parseDenial(shadowed)).toBeUndefined();
    expect(text(shadowed)).toContain('do not read');
    const enforced = await client.callTool({ name: 'enforced.read_text_file', arguments: { path: outside } });
    expect(parseDenial(enforced)?.code).toBe('arguments_out_of_scope');
    const listed = await client.callTool({ name: 'shadowed.list_directory', arguments: { path: dirs.other } });
    expect(parseDenial(listed)?.code).toBe('arguments_out_of_scope');
  });
});

describe('tripwires on the gateway', () => {
  const dirs = scratch();
  let auth: Authority;
  let gw: HttpGateway;

  beforeAll(async () => {
    auth = await authority();
    const options = gatewayOptions(auth, { fs: { stdio: { command: process.execPath, args: [serverEntry('server-filesystem'), dirs.root] } } });
    // The guard's tripwires apply to every call the gateway forwards: move_file is a decoy here.
    gw = await serveHttp({ ...options, guard: { ...options.guard, tripwires: { canaryTools: ['fs.move_file'] } } });
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    dirs.cleanup();
  });

  test('a call to a canary tool stops the agent: its next call, to a granted tool, is capability_revoked', async () => {
    const within = { args: { path: { pathWithin: dirs.allowed } } };
    const client = await gw.connect(await grant(auth, { 'fs.read_text_file': within, 'fs.move_file': {} }));
    const path = join(dirs.allowed, 'notes.txt');
    expect(parseDenial(await client.callTool({ name: 'fs.read_text_file', arguments: { path } }))).toBeUndefined();
    const canary = await client.callTool({ name: 'fs.move_file', arguments: { source: path, destination: join(dirs.allowed, 'moved.txt') } });
    expect(parseDenial(canary)?.code).toBe('capability_revoked');
    expect(parseDenial(await client.callTool({ name: 'fs.read_text_file', arguments: { path } }))?.code).toBe('capability_revoked');
  });
});
