/**
 * A policy (rules file or Cedar policy set) that cannot be accepted. Thrown when an engine is
 * created, never on the call path: a guard with a broken policy must not start.
 */
import { TesseraError } from '../errors.js';

export interface PolicyIssue {
  /** Where in the document, e.g. `rules[3].effect`, or a Cedar policy id. */
  readonly path: string;
  readonly message: string;
  /** 1-based line and column in the source text, when the issue can be placed. */
  readonly line?: number;
  readonly column?: number;
  /** Cedar's own help text, when it gave one. */
  readonly help?: string;
}

export class InvalidPolicyError extends TesseraError {
  static override code = 'policy_invalid';
  /** The file or label the policy came from. */
  readonly source: string;
  readonly issues: readonly PolicyIssue[];

  constructor(source: string, issues: readonly PolicyIssue[]) {
    const lines = issues.slice(0, 10).map((i) => {
      const at = i.line === undefined ? source : `${source}:${i.line}:${i.column ?? 1}`;
      return `${at}: ${i.path === '' ? '' : `${i.path}: `}${i.message}${i.help ? ` (${i.help})` : ''}`;
    });
    const more = issues.length > 10 ? `\n… and ${issues.length - 10} more` : '';
    super(`Invalid policy in ${source}:\n${lines.join('\n')}${more}`);
    this.source = source;
    this.issues = issues;
  }
}

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
