import type { z } from 'zod';

/**
 * Formats zod issues as `path: message` lines without echoing the input: grant requests and
 * arguments may carry secrets (zod's `reportInput` stays off).
 */
export function describeIssues(error: z.ZodError, root: string): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(String(p)) ? `.${String(p)}` : `[${JSON.stringify(String(p))}]`))
        .join('');
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.map((k) => JSON.stringify(k)).join(', ')})` : '';
      const nested = issue.code === 'invalid_key' || issue.code === 'invalid_element' ? issue.issues[0]?.message : undefined;
      return `${root}${path}: ${issue.message}${keys}${nested ? ` (${nested})` : ''}`;
    })
    .join('; ');
}
