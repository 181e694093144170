/**
 * docs/frameworks.md: every ```ts block compiles, as printed, against this repository's source
 * standing in for the installed package (`tessera-guard` and its subpaths map to src/).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
// Inside the repository so that the snippets resolve the frameworks from its node_modules.
const dir = join(root, 'node_modules', '.cache', `tessera-frameworks-doc-${process.pid}`);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('every TypeScript snippet in docs/frameworks.md type-checks under the strict settings', { timeout: 120_000 }, () => {
  const doc = readFileSync(join(root, 'docs', 'frameworks.md'), 'utf8');
  const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks.length).toBe(5);
  mkdirSync(dir, { recursive: true });
  const files = blocks.map((code, i) => {
    const file = `snippet-${i}.ts`;
    // Each snippet is its own module, as in the reader's app.
    writeFileSync(join(dir, file), code.includes('export ') ? code : `${code}\nexport {};\n`);
    return file;
  });
  const src = (p: string) => [join(root, 'src', p)];
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(root, 'tsconfig.json'),
      compilerOptions: {
        noEmit: true,
        paths: {
          'tessera-guard': src('index.ts'),
          'tessera-guard/langchain': src('adapters/langchain.ts'),
          'tessera-guard/ai-sdk': src('adapters/ai-sdk.ts'),
          'tessera-guard/openai-agents': src('adapters/openai-agents.ts'),
          'tessera-guard/mcp': src('adapters/mcp.ts'),
          'tessera-guard/testing': src('testing/index.ts'),
        },
      },
      include: files,
    }),
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  let output = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    output = String((err as { stdout?: string }).stdout ?? err);
  }
  expect(output).toBe('');
});
