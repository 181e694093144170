/**
 * Rolling out the guard on an agent that already runs: shadow, advise, enforce.
 *
 * 1. Shadow: a guard in shadow mode with evidence on runs every check under the broad grant the
 *    team wrote by hand, records what it would have decided, and lets every call through, even
 *    one that enforce mode would deny.
 * 2. Advise: the spans go out through the OpenTelemetry OTLP/HTTP exporter as OTLP JSON into a
 *    file, and `tessera advise` (run in process) writes the tightest grant that would have allowed
 *    every call the guard allowed.
 * 3. Enforce: under a capability granted from the advised file, a guard in enforce mode allows the
 *    calls shadow mode allowed and denies the rest: the mistake, another host, a tool never called.
 *
 * Run: npx tsx examples/shadow-rollout.ts
 *
 * Here a loopback HTTP listener stands in for an OpenTelemetry Collector with a file exporter.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { runCli } from '../src/cli/run.js';
import { createAuthority, createGuard, guardTool, ToolDeniedError, type Authority, type GrantRequest, type GuardMode } from '../src/index.js';

const AGENT = 'spiffe://example.org/agents/support';
const PURPOSE = 'Answer support tickets';

/** The grant written by hand before anyone watched the agent: broad, as such grants are. */
const TODAY = {
  agent: AGENT,
  audience: 'support-app',
  intent: { id: 'ticket-4711', purpose: PURPOSE },
  ttl: '1h',
  tools: {
    'tickets.read': { args: { ticketId: { in: ['4711', '4712', '4713', '4714'] } } },
    'kb.fetch': { args: { url: { hostIn: ['*.example.com'] } } },
    'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 50 },
    'tickets.delete': {},
  },
} satisfies GrantRequest;

type Call = readonly [tool: 'tickets.read' | 'kb.fetch' | 'email.send' | 'tickets.delete', args: Record<string, string>];

/** What the agent does on its ticket. */
const TASK: readonly Call[] = [
  ['tickets.read', { ticketId: '4711' }],
  ['kb.fetch', { url: 'https://kb.example.com/printers/fire' }],
  ['email.send', { to: 'customer@example.com' }],
];
/** A mistake the broad grant refuses too: enforce mode would deny it, shadow mode runs it. */
const MISTAKE: Call = ['email.send', { to: 'someone@elsewhere.org' }];

function agentTools(authority: Authority, mode: GuardMode, spans?: InMemorySpanExporter) {
  const tracer = spans === undefined ? undefined : new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }).getTracer('support-agent');
  const guard = createGuard({
    audience: 'support-app',
    trust: { issuer: authority.issuer, jwks: () => authority.jwks() },
    mode,
    telemetry: tracer === undefined ? { evidence: true } : { evidence: true, tracer },
  });
  const tool = (name: Call[0], input: z.ZodObject<Record<string, z.ZodString>>) =>
    guardTool(guard, { name, description: name, input, risk: 'read' }, async () => 'done');
  return {
    'tickets.read': tool('tickets.read', z.object({ ticketId: z.string() })),
    'kb.fetch': tool('kb.fetch', z.object({ url: z.string() })),
    'email.send': tool('email.send', z.object({ to: z.string() })),
    'tickets.delete': tool('tickets.delete', z.object({ ticketId: z.string() })),
  };
}

/** The spans as OTLP JSON, as the OTLP/HTTP exporter sends them to a collector. */
async function exportOtlpJson(spans: ReadableSpan[]): Promise<string> {
  let body = '';
  const collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = collector.address() as { port: number };
    const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${port}/v1/traces` });
    await new Promise<void>((resolve, reject) => exporter.export(spans, (r) => (r.code === 0 ? resolve() : reject(r.error ?? new Error('export failed')))));
    await exporter.shutdown();
    return body;
  } finally {
    await new Promise<void>((resolve) => collector.close(() => resolve()));
  }
}

export async function shadowRolloutExample(): Promise<string[]> {
  const out: string[] = [];
  const say = (line: string) => out.push(line);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-rollout-'));
  try {
    const authority = await createAuthority({ issuer: 'https://authz.example.com' });
    const attempt = async (tools: ReturnType<typeof agentTools>, [tool, args]: Call, capability: string) => {
      const label = `${tool} ${Object.values(args).join(' ')}`;
      try {
        await (tools[tool] as (a: Record<string, string>, o: { capability: string }) => Promise<unknown>)(args, { capability });
        say(`  allowed  ${label}`);
      } catch (err) {
        if (!(err instanceof ToolDeniedError)) throw err;
        say(`  denied   ${label}: ${err.code}`);
      }
    };

    say('1. Shadow mode, under the grant written by hand (every call runs):');
    const spans = new InMemorySpanExporter();
    const shadow = agentTools(authority, 'shadow', spans);
    const today = await authority.grant(TODAY);
    for (const call of [...TASK, MISTAKE]) await attempt(shadow, call, today);
    for (const s of spans.getFinishedSpans()) {
      if (s.attributes['tessera.decision'] === 'deny') say(`  recorded: ${String(s.attributes['gen_ai.tool.name'])} would have been denied ${String(s.attributes['tessera.denial.code'])}`);
    }

    say('\n2. Advise: the spans as OTLP JSON, then `tessera advise`:');
    writeFileSync(join(dir, 'spans.json'), await exportOtlpJson(spans.getFinishedSpans()));
    writeFileSync(join(dir, 'today.json'), JSON.stringify(TODAY));
    let report = '';
    let told = '';
    const code = await runCli(['advise', '--grant', 'today.json', '--out', 'advised.json', 'spans.json'], {
      stdout: (t) => (report += t),
      stderr: (t) => (told += t),
      readStdin: async () => '',
      cwd: dir,
      env: {},
      clock: Date.now,
    });
    say(`  tessera advise exited ${code}: ${told.trim()}`);
    // The report ends with the advised grant as JSON; it is printed below from the file instead.
    for (const line of report.split('\nAdvised grant\n')[0]!.trimEnd().split('\n')) say(`  | ${line}`);
    const { issuer: _issuer, ...advised } = JSON.parse(readFileSync(join(dir, 'advised.json'), 'utf8')) as GrantRequest & { issuer?: string };
    say('  advised.json, tools:');
    for (const [tool, rule] of Object.entries(advised.tools)) say(`    ${tool}: ${JSON.stringify(rule)}`);

    say('\n3. Enforce mode, under a capability granted from the advised file:');
    const enforce = agentTools(authority, 'enforce');
    const next = await authority.grant({ ...advised, intent: { id: 'ticket-4712', purpose: PURPOSE } });
    for (const call of TASK) await attempt(enforce, call, next);
    await attempt(enforce, MISTAKE, next);
    await attempt(enforce, ['kb.fetch', { url: 'https://admin.example.com/export' }], next);
    await attempt(enforce, ['tickets.delete', { ticketId: '4711' }], next);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await shadowRolloutExample()) console.log(line);
}
