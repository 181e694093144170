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
  // A number that is not acceptable (out of bounds, fractional, NaN, infinite) is out of range;
  // anything of the wrong kind is a type error.
  const outOfRange =
    issue.code === 'too_big' ||
    issue.code === 'too_small' ||
    (issue.code === 'invalid_type' && (issue.expected === 'number' || issue.expected === 'int') && typeof valueAt(input, issue.path) === 'number');
  throw outOfRange ? new RangeError(message) : new TypeError(message);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let node = input;
  for (const segment of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

/** The keys a strict object accepts at `path` inside `schema`, seen through optional/default wrappers. */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): readonly string[] {
  let node: unknown = schema;
  for (const segment of [...path, undefined]) {
    node = unwrap(node);
    // An index needs no step: unwrap has already gone from the array to its element.
    if (typeof segment === 'number') continue;
    const shape = (node as { shape?: Record<string, unknown> } | undefined)?.shape;
    if (shape === undefined || typeof shape !== 'object') return [];
    if (segment === undefined) return Object.keys(shape);
    node = Object.hasOwn(shape, String(segment)) ? shape[String(segment)] : undefined;
  }
  return [];
}

type SchemaNode = { _zod?: { def?: { innerType?: unknown; element?: unknown; type?: string } } } | undefined;

/** Sees through optional/default wrappers, and from an array to its element (a path's index). */
function unwrap(node: unknown): unknown {
  let current = node as SchemaNode;
  for (let i = 0; i < 8; i++) {
    const def = current?._zod?.def;
    if (def?.innerType !== undefined) current = def.innerType as SchemaNode;
    else if (def?.type === 'array' && def.element !== undefined) current = def.element as SchemaNode;
    else break;
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
