/**
 * The import graph of src/ points one way. Layers, lowest first:
 *
 *   0  errors.ts, util/
 *   1  store/, telemetry/, jose/
 *   2  capability/, identity/, credentials/, policy/
 *   3  guard/
 *   4  adapters/, testing/, cli/, server/, client/, gateway/, audit/, advise/, and the entry files (index.ts)
 *
 * A file may import from its own layer or a lower one, never a higher one, and no import cycle
 * is allowed anywhere. Within layer 2, capability/ may use identity/ (the authority verifies an
 * agent's token before granting) but identity/ never uses capability/. Checked with
 * dependency-cruiser over the TypeScript sources.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';
import { expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

const LAYERS: readonly (readonly string[])[] = [
  ['^src/errors\\.ts$', '^src/util/'],
  ['^src/store/', '^src/telemetry/', '^src/jose/'],
  ['^src/capability/', '^src/identity/', '^src/credentials/', '^src/policy/'],
  ['^src/guard/'],
  ['^src/adapters/', '^src/testing/', '^src/cli/', '^src/server/', '^src/client/', '^src/gateway/', '^src/audit/', '^src/advise/', '^src/(?!errors\\.ts$)[^/]+\\.ts$'],
];

test('every folder and file directly under src/ belongs to a layer', () => {
  const entries = readdirSync(resolve(ROOT, 'src'), { withFileTypes: true }).map((e) => `src/${e.name}${e.isDirectory() ? '/' : ''}`);
  const patterns = LAYERS.flat().map((p) => new RegExp(p));
  expect(entries.filter((e) => !patterns.some((p) => p.test(e)))).toEqual([]);
});

const either = (patterns: readonly string[]): string => `(${patterns.join('|')})`;

/** For each layer: its files may not import anything in the layers above it. */
const upward: IForbiddenRuleType[] = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${i}-imports-upward`,
  severity: 'error',
  from: { path: either(layer), pathNot: i === 0 ? undefined : either(LAYERS.slice(0, i).flat()) },
  to: { path: either(LAYERS.slice(i + 1).flat()), pathNot: either(layer) },
})) as IForbiddenRuleType[];

test('src/ has no import cycle and no import from a higher layer', async () => {
  const { output } = await cruise(
    ['src'],
    {
      baseDir: ROOT,
      validate: true,
      tsPreCompilationDeps: true,
      doNotFollow: { path: 'node_modules' },
      exclude: { path: 'node_modules' },
      ruleSet: {
        forbidden: [
          { name: 'no-cycle', severity: 'error', from: {}, to: { circular: true } },
          ...upward,
          { name: 'identity-imports-capability', severity: 'error', from: { path: '^src/identity/' }, to: { path: '^src/capability/' } },
        ],
      },
    },
    { extensions: ['.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } },
  );
  const result = output as ICruiseResult;
  const violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((c) => (typeof c === 'string' ? c : c.name)).join(' -> ')})` : ''}`);
  expect(result.summary.totalCruised).toBeGreaterThan(50);
  expect(violations).toEqual([]);
}, 60_000);
