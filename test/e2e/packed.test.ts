/**
 * The package as users get it: built with the real tsup config, packed with `npm pack`, the
 * tarball extracted into a fresh app's node_modules (no network: the app's other dependencies
 * are links to this repository's), and used there through `tessera-guard` and its subpaths only.
 * Each framework gets an allowed, a denied and an approved call with approvals wired once.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, type Options } from 'tsup';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import config from '../../tsup.config.js';

const root = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'tessera-packed-'));
const app = join(work, 'app');

const LINKED = [
  'jose', 'zod', 'nanoid', 're2js', '@opentelemetry/api', '@langchain/core', '@langchain/langgraph', 'langchain',
  'ai', '@ai-sdk/provider', '@ai-sdk/provider-utils', '@openai/agents-core', '@modelcontextprotocol/sdk',
  'redis', 'ioredis', '@cedar-policy/cedar-wasm', 'yaml', 'vitest',
];

const node = (args: string[]): string => execFileSync(process.execPath, args, { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });

beforeAll(async () => {
  const staging = join(work, 'staging');
  mkdirSync(staging, { recursive: true });
  copyFileSync(join(root, 'package.json'), join(staging, 'package.json'));
  copyFileSync(join(root, 'README.md'), join(staging, 'README.md'));
  // Types are checked by tsc and the dist test; building them here would take a minute.
  await build({ ...(config as Options), outDir: join(staging, 'dist'), dts: false, sourcemap: false, silent: true });
  execFileSync('npm', ['pack', '--silent', '--pack-destination', work, '--offline', '--ignore-scripts'], { cwd: staging, stdio: 'pipe' });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  const installed = join(app, 'node_modules', 'tessera-guard');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(work, tarball), '-C', installed, '--strip-components=1']);
  for (const dep of LINKED) {
    mkdirSync(join(app, 'node_modules', dep, '..'), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), join(app, 'node_modules', dep), 'dir');
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }));
  copyFileSync(join(import.meta.dirname, 'packed-app', 'app.mjs'), join(app, 'app.mjs'));
  copyFileSync(join(import.meta.dirname, 'packed-app', 'require.cjs'), join(app, 'require.cjs'));
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed tarball in a fresh app', () => {
  test('LangChain.js, the AI SDK, the OpenAI Agents SDK and MCP: allowed, denied, and approved once asked', { timeout: 60_000 }, () => {
    const results = JSON.parse(node(['app.mjs'])) as Record<string, { allowed: boolean; denied: string; paused: number; ran: string[] }>;
    for (const framework of ['langchain', 'aiSdk', 'openAIAgents', 'mcp']) {
      // The read ran, the out-of-scope read was denied, the refund waited for one human and ran.
      expect({ framework, ...results[framework] }).toEqual({
        framework,
        allowed: true,
        denied: 'arguments_out_of_scope',
        paused: 1,
        ran: ['tickets_read', 'payments_refund'],
      });
    }
  });

  test('require() loads every CommonJS subpath; tessera-guard/testing is ESM only', () => {
    const loaded = JSON.parse(node(['require.cjs'])) as Record<string, number | string>;
    expect(loaded['testing']).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    for (const [sub, exports] of Object.entries(loaded)) if (sub !== 'testing') expect(exports, sub).toBeGreaterThan(0);
  });

  test('the installed bin runs the demo', () => {
    const out = node([join('node_modules', 'tessera-guard', 'dist', 'cli', 'main.js'), 'demo']);
    expect(out).toMatch(/delete the ticket\s+tickets\.delete\s+denied\s+tool_not_granted/);
  });
});
