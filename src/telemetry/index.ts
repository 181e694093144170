/**
 * `tessera-guard/telemetry`: the span and metric schema as constants — attribute keys, event and
 * metric names — for dashboards, alerts and tests that read what the guard records.
 */
export { ATTR, EVENT, METRIC, METRICS, SPAN_ATTRIBUTES } from './attributes.js';
