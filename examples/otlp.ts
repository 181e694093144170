/**
 * Exporting Tessera's spans and metrics over OTLP/HTTP with the OpenTelemetry Node SDK: what a
 * service does so that its dashboards (Grafana, Honeycomb, Jaeger, an OpenTelemetry Collector)
 * see every guarded call. Tessera itself only uses `@opentelemetry/api`; the host picks the SDK.
 *
 *   npx tsx examples/otlp.ts                                   # to http://127.0.0.1:4318
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 npx tsx examples/otlp.ts
 */
import { pathToFileURL } from 'node:url';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { z } from 'zod';
import { createAuthority, createGuard, ToolDeniedError, guardTool } from '../src/index.js';

export interface OtlpExampleOptions {
  /** The OTLP/HTTP base URL, e.g. `http://127.0.0.1:4318`; `/v1/traces` and `/v1/metrics` are appended. */
  endpoint: string;
  serviceName?: string;
  log?: (line: string) => void;
}

/** Starts the SDK, runs a short guarded task, and shuts the SDK down so that everything is sent. */
export async function runOtlpExample(options: OtlpExampleOptions): Promise<void> {
  const base = options.endpoint.replace(/\/+$/, '');
  const log = options.log ?? console.log;
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'support-agent' }),
    autoDetectResources: false,
    traceExporter: new OTLPTraceExporter({ url: `${base}/v1/traces` }),
    metricReaders: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: 60_000 })],
    // This example sends traces and metrics only.
    logRecordProcessors: [],
  });
  sdk.start();
  try {
    const authority = await createAuthority({ issuer: 'https://authz.example.com' });
    // No `telemetry` option: the guard uses the global tracer and meter the SDK registered.
    const guard = createGuard({
      audience: 'support-app',
      trust: { issuer: authority.issuer, jwks: () => authority.jwks() },
      approver: () => ({ approved: true, approver: 'oncall@example.com' }),
    });
    const readTicket = guardTool(
      guard,
      { name: 'tickets.read', description: 'Read a ticket', input: z.object({ ticketId: z.string() }), risk: 'read' },
      async (args) => ({ id: args.ticketId, body: 'My invoice is wrong' }),
    );
    const sendEmail = guardTool(
      guard,
      { name: 'email.send', description: 'Send an email', input: z.object({ to: z.string(), body: z.string() }), risk: 'external' },
      async (args, ctx) => {
        ctx.sideEffect('email.sent', { domain: args.to.split('@')[1] ?? '' });
        return { ok: true };
      },
    );
    const capability = await authority.grant({
      agent: 'spiffe://example.org/agents/support',
      audience: 'support-app',
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools: {
        'tickets.read': { args: { ticketId: { eq: '4711' } } },
        'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 },
      },
      ttl: '5m',
    });

    await guard.withCapability(capability, async () => {
      const attempt = async (what: string, call: () => Promise<unknown>): Promise<void> => {
        try {
          await call();
          log(`${what}: allowed`);
        } catch (err) {
          if (!(err instanceof ToolDeniedError)) throw err;
          log(`${what}: denied (${err.code})`);
        }
      };
      await attempt('read ticket 4711', () => readTicket({ ticketId: '4711' }));
      await attempt('read ticket 4712', () => readTicket({ ticketId: '4712' }));
      await attempt('email the customer', () => sendEmail({ to: 'ann@example.com', body: 'Fixed.' }));
      await attempt('email them again', () => sendEmail({ to: 'ann@example.com', body: 'Again.' }));
    });
  } finally {
    // Shutting down flushes the batch span processor and the metric reader.
    await sdk.shutdown();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://127.0.0.1:4318';
  await runOtlpExample({ endpoint });
}
