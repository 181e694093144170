/**
 * Decision-log lines as OpenTelemetry log records, through `@opentelemetry/api-logs` (the host
 * registers the SDK and its OTLP exporter). Each record's body is the exact line, so a copy
 * collected elsewhere verifies like the files do: the same leaf hashes, the same signed heads.
 * An exporter may drop records without telling the log; the files stay the record of truth,
 * and this copy is best read as a witness of the tree heads.
 */
import { logs, SeverityNumber, type Logger } from '@opentelemetry/api-logs';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from '../recorder.js';
import type { DecisionLogSink } from './log.js';

export interface OtlpLogSinkOptions {
  /** Default: the global logger provider's `tessera` logger. */
  logger?: Logger;
  /** The sink's name in gap records and denial reasons; default `otlp`. */
  name?: string;
}

/** The event name of every log record this sink emits. */
export const DECISION_LOG_EVENT = 'tessera.decision_log.entry';

export function createOtlpLogSink(options: OtlpLogSinkOptions = {}): DecisionLogSink {
  if (options === null || typeof options !== 'object') throw new TypeError('createOtlpLogSink needs an options object');
  const logger = options.logger ?? logs.getLogger(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  if (typeof logger?.emit !== 'function') throw new TypeError('createOtlpLogSink: logger must be an OpenTelemetry Logger');
  return {
    name: options.name ?? 'otlp',
    write(lines) {
      for (const line of lines) {
        logger.emit({ eventName: DECISION_LOG_EVENT, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: line });
      }
    },
  };
}
