// InvalidPolicyError lives with every other error class; this module keeps existing imports working.
export { InvalidPolicyError } from '../errors.js';
export type { PolicyIssue } from '../errors.js';

/** 1-based line and column of a character offset in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/** `['rules', 3, 'effect']` → `rules[3].effect`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(p))) out += out === '' ? String(p) : `.${String(p)}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}
