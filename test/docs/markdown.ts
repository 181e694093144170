/** The repository's documentation pages and the code blocks in them, for the doc tests. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Page {
  /** Path from the repository root, with forward slashes. */
  readonly path: string;
  readonly text: string;
}

export interface CodeBlock {
  readonly page: string;
  /** 1-based line of the block's first code line in the page. */
  readonly line: number;
  readonly lang: string;
  readonly code: string;
}

function markdownUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownUnder(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
}

/** README.md, examples/README.md and every page under docs/. */
export function pages(): Page[] {
  const files = [join(ROOT, 'README.md'), join(ROOT, 'examples', 'README.md'), ...markdownUnder(join(ROOT, 'docs')).sort()];
  return files.map((f) => ({ path: relative(ROOT, f).split('\\').join('/'), text: readFileSync(f, 'utf8') }));
}

export function codeBlocks(page: Page): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = page.text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    if (end === lines.length) throw new Error(`${page.path}:${i + 1}: code block is never closed`);
    blocks.push({ page: page.path, line: start + 1, lang: open[1] ?? '', code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/**
 * A snippet that cannot stand alone as a module (say, two alternatives that declare the same
 * name) says so on its first line; it is then not compiled. Keep these few.
 */
export const FRAGMENT_MARKER = /^\/\/ fragment\b/;
