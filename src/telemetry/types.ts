import type { Meter, Tracer } from '@opentelemetry/api';

export interface TelemetryOptions {
  /** Default: `trace.getTracer('tessera')` from the global provider. */
  tracer?: Tracer;
  /** Default: `metrics.getMeter('tessera')` from the global provider. */
  meter?: Meter;
  /**
   * `create` (default) starts a span per call; `enrich` adds Tessera's attributes to the active
   * span when a framework already created an `execute_tool` span, and creates one otherwise.
   */
  spanMode?: 'create' | 'enrich';
  /** Record raw arguments (`gen_ai.tool.call.arguments`). Off by default: arguments may be secret. */
  recordArguments?: boolean;
  /**
   * Record each call's evidence (`tessera.evidence`): the shape of each argument a grant could
   * be written on, never a raw string. Off by default; a tool's own `evidence` option wins.
   */
  evidence?: boolean;
}
