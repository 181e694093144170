/**
 * Gateway: what putting an MCP server behind `tessera gateway` adds to a tool call, against the
 * same server called directly, in the same rounds (wall time: every call waits on other
 * processes). Entries, in a new shuffled order each round:
 *
 * - direct: the MCP SDK client → the server-everything `echo` tool over stdio;
 * - gateway (stdio): the client → `tessera gateway` (its own process, launched as a desktop
 *   client does) → the same server over stdio;
 * - gateway (in-process): the client → the gateway's MCP server in this process (in-memory
 *   transport) → the same server over stdio: the gateway's own work without the extra process hop;
 * - guarded / bare: the in-process guard around a trivial tool, and the tool alone.
 *
 * `gateway_added_us` = gateway (stdio) − direct. `gateway_vs_guard` = (gateway in-process −
 * direct) / (guarded − bare): the gateway's own added time over the in-process guard's.
 * `gateway_stdio_vs_guard` is the same with the extra process hop included.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { z } from 'zod';
import { createMcpGateway } from '../../src/gateway/index.js';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { round, type BenchSuite } from '../harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const EVERYTHING = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
const ISSUER = 'https://authz.example.com';
const AUDIENCE = 'bench-gateway';

const suite: BenchSuite = async (h) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-gw-'));
  const authority = await createAuthority({ issuer: ISSUER });
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/bench',
    audience: AUDIENCE,
    intent: { id: 'bench', purpose: 'Benchmark' },
    tools: { 'ev.echo': {} },
    ttl: '1h',
  });
  const upstream = { command: process.execPath, args: [EVERYTHING, 'stdio'] };
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(authority.jwks()));
  writeFileSync(
    join(dir, 'gateway.json'),
    JSON.stringify({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: { file: 'jwks.json' } }, capability: { env: 'TESSERA_CAPABILITY' }, upstreams: { ev: { stdio: upstream } } }),
  );
  const quiet = { stderr: 'ignore' as const };

  const direct = new Client({ name: 'bench', version: '1' });
  await direct.connect(new StdioClientTransport({ ...upstream, ...quiet }));
  const viaCli = new Client({ name: 'bench', version: '1' });
  await viaCli.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'gateway', '--config', join(dir, 'gateway.json')],
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', TESSERA_CAPABILITY: capability },
      cwd: ROOT,
      ...quiet,
    }),
    { timeout: 60_000 },
  );
  const gateway = createMcpGateway({ guard: { audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() } }, upstreams: { ev: { stdio: upstream } }, capability });
  await gateway.start();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await gateway.createServer(() => capability).connect(serverSide);
  const inProcess = new Client({ name: 'bench', version: '1' });
  await inProcess.connect(clientSide);

  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: authority.jwks() } });
  const bare = async (args: { message: string }) => ({ content: [{ type: 'text', text: `Echo: ${args.message}` }] });
  const guarded = guardTool(guard, { name: 'ev.echo', description: 'Echo', input: z.object({ message: z.string() }), risk: 'read' }, bare);

  const args = { message: 'hello' };
  try {
    const r = await h.rounds(
      {
        'gateway: direct (stdio)': () => direct.callTool({ name: 'echo', arguments: args }),
        'gateway: through tessera gateway (stdio)': () => viaCli.callTool({ name: 'ev.echo', arguments: args }),
        'gateway: through the gateway in-process': () => inProcess.callTool({ name: 'ev.echo', arguments: args }),
        'gateway: in-process guard': () => guarded(args, { capability }),
        'gateway: bare tool': () => bare(args),
      },
      { iterations: 200, rounds: 9, warmup: 200, clock: 'wall' },
    );
    const perRound = (f: (at: (n: string) => number) => number): number => {
      const rounds = r.series['gateway: direct (stdio)']!.length;
      const xs: number[] = [];
      for (let i = 0; i < rounds; i++) xs.push(f((n) => r.series[n]![i]!));
      xs.sort((a, b) => a - b);
      return xs.length % 2 ? xs[xs.length >> 1]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2;
    };
    const guardAdded = (at: (n: string) => number) => at('gateway: in-process guard') - at('gateway: bare tool');
    const added = perRound((at) => at('gateway: through tessera gateway (stdio)') - at('gateway: direct (stdio)'));
    const inProcessAdded = perRound((at) => at('gateway: through the gateway in-process') - at('gateway: direct (stdio)'));
    const guardUs = perRound(guardAdded);
    const vsGuard = perRound((at) => (at('gateway: through the gateway in-process') - at('gateway: direct (stdio)')) / guardAdded(at));
    const stdioVsGuard = perRound((at) => (at('gateway: through tessera gateway (stdio)') - at('gateway: direct (stdio)')) / guardAdded(at));
    h.note('gateway: added over direct (stdio process hop included)', `${added.toFixed(1)} µs/call`);
    h.note('gateway: added in-process (the gateway\'s own work)', `${inProcessAdded.toFixed(1)} µs/call; guard alone ${guardUs.toFixed(1)} µs/call`);
    h.note('gateway: gateway_vs_guard', `${vsGuard.toFixed(2)} (target <= 1.3); with the process hop ${stdioVsGuard.toFixed(2)}`);
    return {
      gateway_added_us: round(added, 1),
      gateway_inprocess_added_us: round(inProcessAdded, 1),
      gateway_guard_added_us: round(guardUs, 1),
      gateway_vs_guard: round(vsGuard, 2),
      gateway_stdio_vs_guard: round(stdioVsGuard, 2),
    };
  } finally {
    await Promise.all([direct.close(), viaCli.close(), inProcess.close()].map((p) => p.catch(() => undefined)));
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

export default suite;
