import { describe, expect, test } from 'vitest';
import { OtlpFormatError, parseOtlpJson } from '../../src/cli/audit/otlp-json.js';
import { streamOtlpSpans } from '../../src/cli/audit/otlp-stream.js';

const span = (i: number, extra = '') => ({
  traceId: `t${i}`,
  spanId: `s${i}`,
  name: `execute_tool x{"]}\\${i}${extra}`,
  startTimeUnixNano: `${1_700_000_000_000_000_000n + BigInt(i)}`,
  attributes: [{ key: 'gen_ai.tool.name', value: { stringValue: `tool "spans": [{${i}` } }],
  events: [{ name: 'e', attributes: [] }],
});
const exportOf = (from: number, n: number) => ({
  resourceSpans: [
    { resource: { attributes: [{ key: 'spans', value: { arrayValue: { values: [{ stringValue: '{' }] } } }] }, scopeSpans: [{ scope: { name: 'tessera' }, spans: Array.from({ length: n }, (_, k) => span(from + k)) }] },
    { scopeSpans: [{ spans: [span(from + n, 'é'.repeat(50))] }, { spans: [] }] },
  ],
});

async function* chunks(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function read(text: string, size: number): Promise<{ names: string[]; exports: number }> {
  const names: string[] = [];
  const stats = await streamOtlpSpans(chunks(text, size), (s) => names.push(String(s.name)));
  return { names, exports: stats.exports };
}

describe('streaming OTLP JSON', () => {
  const forms: [string, string, number][] = [
    ['one export', JSON.stringify(exportOf(0, 3), null, 2), 1],
    ['an array of exports', JSON.stringify([exportOf(0, 2), exportOf(10, 1)]), 2],
    ['one export per line', `${JSON.stringify(exportOf(0, 2))}\n${JSON.stringify(exportOf(20, 2))}\n`, 2],
  ];
  for (const [name, text, exports] of forms) {
    test(`${name}: the same spans as the whole-text reader, however the bytes are cut`, async () => {
      const expected = parseOtlpJson(text).map((s) => s.name);
      expect(expected.length).toBeGreaterThan(2);
      for (const size of [1, 2, 3, 7, 64, 1 << 20]) {
        const r = await read(text, size);
        expect(r.names).toEqual(expected);
        expect(r.exports).toBe(exports);
      }
    });
  }

  test('holds one span at a time: a span larger than the bound is refused', async () => {
    const big = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'x'.repeat(17 * 1024 * 1024) }] }] }] });
    await expect(read(big, 1 << 20)).rejects.toThrow(new OtlpFormatError(`a span is larger than 16777216 bytes at byte ${16 * 1024 * 1024 + (1 << 20)}`));
  });

  test('mismatched brackets and text after a value are refused with their offset', async () => {
    await expect(read('{"resourceSpans": [}', 4)).rejects.toThrow(new OtlpFormatError('brackets do not match at byte 19'));
    await expect(read('{"resourceSpans": []} x', 4)).rejects.toThrow(new OtlpFormatError('expected OTLP JSON (an object, an array of them, or one per line) at byte 22'));
  });
});
