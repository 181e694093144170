import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** The real OpenTelemetry SDK with an in-memory exporter; its tracer is handed to the guard. */
export function createSpanCapture() {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  // Registering installs the AsyncLocalStorage context manager, as a host application's SDK would;
  // without one, OpenTelemetry cannot carry the active span across awaits.
  provider.register();
  return {
    tracer: provider.getTracer('tessera-test'),
    async spans(): Promise<ReadableSpan[]> {
      await provider.forceFlush();
      return exporter.getFinishedSpans();
    },
    reset: () => exporter.reset(),
    shutdown: () => provider.shutdown(),
  };
}
