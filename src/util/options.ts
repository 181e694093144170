/**
 * One way to validate a public options object: a `z.strictObject` schema parsed once, at the
 * boundary. Unknown keys are errors that name the key and the closest valid one, because a
 * misspelt security option silently ignored is a check silently off. Out-of-range numbers throw
 * `RangeError`, everything else `TypeError`, each naming the option (as jose does).
 */
import type { z } from 'zod';
import { describeIssues } from './zod-issues.js';

/** Parses `input` with `schema` or throws a TypeError/RangeError that names the option. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new TypeError(`${where} needs an options object`);
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const at = issue.path.map(String).join('.');
    const known = keysAt(schema, issue.path);
    const described = issue.keys.map((key) => {
      const near = closest(key, known);
      const prefix = at ? `${at}.` : '';
      return `"${prefix}${key}"${near ? ` (did you mean "${prefix}${near}"?)` : ''}`;
    });
    throw new TypeError(`${where}: unknown option ${described.join(', ')}`);
  }
  const message = describeIssues(parsed.error, where);
  throw issue.code === 'too_big' || issue.code === 'too_small' ? new RangeError(message) : new TypeError(message);
}

/** The keys a strict object accepts at `path` inside `schema`, seen through optional/default wrappers. */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): readonly string[] {
  let node: unknown = schema;
  for (const segment of [...path, undefined]) {
    node = unwrap(node);
    const shape = (node as { shape?: Record<string, unknown> } | undefined)?.shape;
    if (shape === undefined || typeof shape !== 'object') return [];
    if (segment === undefined) return Object.keys(shape);
    node = Object.hasOwn(shape, String(segment)) ? shape[String(segment)] : undefined;
  }
  return [];
}

function unwrap(node: unknown): unknown {
  let current = node as { _zod?: { def?: { innerType?: unknown; type?: string } } } | undefined;
  for (let i = 0; i < 8 && current?._zod?.def?.innerType !== undefined; i++) {
    current = current._zod.def.innerType as typeof current;
  }
  return current;
}

/** The known key nearest to `key` by edit distance, if it is near enough to be a typo. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = key.toLowerCase();
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}
