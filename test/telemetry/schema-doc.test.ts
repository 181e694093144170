import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { DENIAL_CODES } from '../../src/errors.js';
import { ATTR, EVENT, METRIC, METRICS, SPAN_ATTRIBUTES } from '../../src/telemetry/attributes.js';
import { renderDenialTable, renderTelemetrySchema } from '../../src/telemetry/schema-doc.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('the telemetry schema document', () => {
  test('docs/telemetry.md is what the code generates (run "npm run docs:telemetry" when this fails)', () => {
    expect(read('docs/telemetry.md')).toBe(renderTelemetrySchema());
  });

  test('every attribute constant is documented once, with a type, a moment and a cardinality', () => {
    const keys = SPAN_ATTRIBUTES.map((a) => a.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(Object.values(ATTR).filter((k) => !keys.includes(k))).toEqual([]);
    for (const a of SPAN_ATTRIBUTES) {
      expect(a.when.length).toBeGreaterThan(0);
      expect(a.description.length).toBeGreaterThan(0);
      expect(['low', 'medium', 'high']).toContain(a.cardinality);
    }
    expect(Object.values(METRIC).filter((m) => !METRICS.some((x) => x.name === m))).toEqual([]);
  });

  test('the document names every attribute, metric, event and denial code', () => {
    const doc = renderTelemetrySchema();
    for (const k of [...Object.values(ATTR), ...Object.values(METRIC), ...Object.values(EVENT), ...DENIAL_CODES]) {
      expect(doc).toContain(`\`${k}\``);
    }
  });
});

describe('docs/denial-codes.md', () => {
  test('its denial code table is the one DENIAL_STANDARDS generates', () => {
    const table = renderDenialTable();
    expect(table.split('\n')).toHaveLength(DENIAL_CODES.length + 2);
    expect(read('docs/denial-codes.md')).toContain(table);
  });
});

describe('tessera schema', () => {
  test('prints the same document, or the schema as JSON', async () => {
    const { cliHarness } = await import('../cli/support.js');
    const h = cliHarness();
    try {
      expect(await h.run(['schema'])).toEqual({ code: 0, out: renderTelemetrySchema(), err: '' });
      const json = JSON.parse((await h.run(['schema', '--json'])).out) as { spanAttributes: { key: string }[]; metrics: { name: string }[] };
      expect(json.spanAttributes.map((a) => a.key)).toEqual(SPAN_ATTRIBUTES.map((a) => a.key));
      expect(json.metrics.map((m) => m.name)).toEqual(METRICS.map((m) => m.name));
    } finally {
      h.cleanup();
    }
  });
});
