import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRulesEngine, InvalidPolicyError, loadRulesFile, parseRules } from '../../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-rules-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fileError(name: string, text: string): Promise<InvalidPolicyError> {
  const path = join(dir, name);
  await writeFile(path, text);
  const err = await loadRulesFile(path).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidPolicyError);
  return err as InvalidPolicyError;
}

describe('rules files', () => {
  test('the example rules file loads and decides', async () => {
    const engine = await loadRulesFile(new URL('../../examples/policies/rules.yaml', import.meta.url).pathname);
    const req = (id: string, depth: number, risk: 'read' | 'write') => ({
      agent: { id, source: 'asserted' as const },
      intent: { id: 'i', purpose: 'p' },
      tool: { name: risk === 'read' ? 'tickets.read' : 'email.send', risk, description: '' },
      args: {},
      capabilityId: 'c',
      delegation: { depth, chain: [] },
      environment: {},
      time: Date.UTC(2026, 10, 30, 10),
    });
    expect(engine.evaluate(req('spiffe://example.org/agents/support', 0, 'read'))).toMatchObject({ effect: 'allow', policyIds: ['support-reads-tickets'] });
    expect(engine.evaluate(req('spiffe://example.org/agents/support/sub', 1, 'write'))).toMatchObject({ effect: 'deny', policyIds: ['subagents-read-only'] });
  });

  test('a YAML schema error names its line and column', async () => {
    const err = await fileError(
      'bad-effect.yaml',
      ['version: 1', 'rules:', '  - id: ok', '    effect: permit', '  - id: broken', '    effect: allow-everything', ''].join('\n'),
    );
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ path: 'rules[1].effect', line: 6, column: 5 });
    expect(err.message).toContain('bad-effect.yaml:6:5: rules[1].effect');
  });

  test('an unknown key in YAML is placed at the key', async () => {
    const err = await fileError('unknown-key.yaml', ['version: 1', 'rules:', '  - id: a', '    effect: permit', '    tols: [x]', ''].join('\n'));
    expect(err.issues[0]).toMatchObject({ line: 5, column: 5 });
  });

  test('a YAML syntax error names its line', async () => {
    const err = await fileError('syntax.yaml', ['version: 1', 'rules:', '  - id: a', '    effect: [permit', ''].join('\n'));
    expect(err.issues[0]!.message).toMatch(/^invalid YAML/);
    expect(err.issues[0]!.line).toBeGreaterThanOrEqual(4);
  });

  test('a duplicate YAML key is an error, not last-one-wins', async () => {
    const err = await fileError('dup.yaml', ['version: 1', 'rules:', '  - id: a', '    effect: permit', '    effect: forbid', ''].join('\n'));
    expect(err.issues[0]).toMatchObject({ line: 5 });
  });

  test('a JSON schema error names its line', async () => {
    const text = JSON.stringify({ version: 1, roles: { r: [{ spiffe: 'spiffe://x/*' }] }, rules: [{ id: 'a', effect: 'permit', roles: ['nobody'] }] }, null, 2);
    const err = await fileError('unknown-role.json', text);
    const line = text.split('\n').findIndex((l) => l.includes('"nobody"')) + 1;
    expect(err.issues[0]).toMatchObject({ path: 'rules[0].roles[0]', message: 'unknown role "nobody"', line });
  });

  test('a JSON syntax error names its line and column', async () => {
    const err = await fileError('syntax.json', '{\n  "version": 1,\n  "rules": [\n    { "id": "a", }\n  ]\n}\n');
    expect(err.issues[0]).toMatchObject({ line: 4, column: 18 });
  });

  test('a duplicate JSON key is an error', async () => {
    const err = await fileError('dup.json', '{"version": 1,\n "rules": [],\n "rules": []}');
    expect(err.issues[0]).toMatchObject({ line: 3 });
  });

  test('duplicate rule ids are refused', async () => {
    const err = await parseRules('{"version":1,"rules":[{"id":"a","effect":"permit"},\n{"id":"a","effect":"forbid"}]}', { format: 'json' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ issues: [{ path: 'rules[1].id', message: 'duplicate rule id "a"', line: 2 }] });
  });

  test('rate on a permit and an argument pattern outside RE2 syntax are refused', () => {
    expect(() =>
      createRulesEngine({
        version: 1,
        rules: [
          { id: 'a', effect: 'permit', rate: { max: 1, per: '1m' } },
          { id: 'b', effect: 'forbid', args: { q: { pattern: '(?=a)a' } } },
        ],
      }),
    ).toThrow(InvalidPolicyError);
  });

  test('an unknown extension is a TypeError naming the file', async () => {
    await expect(loadRulesFile(join(dir, 'rules.toml'))).rejects.toThrow(TypeError);
  });
});
