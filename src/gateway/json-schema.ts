/**
 * An upstream tool's `inputSchema` (JSON Schema) as the zod schema the guard parses arguments
 * with. zod's own `z.fromJSONSchema` does the conversion; this module only decides what it may be
 * given. zod ignores keywords it does not know, and an ignored keyword is a check that silently
 * does not happen, so every keyword outside the set zod enforces (plus pure annotations) is
 * refused, and so is a schema zod itself cannot convert. A refused tool is hidden, never passed
 * through unchecked.
 *
 * The top level must be an object schema. When it declares `properties` and says nothing about
 * other keys, arguments it does not name are refused: the grant's constraints and the upstream
 * both reason about named arguments, and an extra one the upstream happens to read would reach
 * it unchecked.
 *
 * `pattern` is matched by RE2 (re2js), never by JavaScript's backtracking engine: a schema is
 * written by the upstream and the value by the model, and one adjacent pair of overlapping
 * quantifiers would let a few hundred characters stall the gateway. zod would compile `pattern`
 * to a RegExp, so patterns are taken out before conversion and checked after it, with the
 * bounds grant patterns have (source length, program size; a value longer than
 * `PATTERN_MAX_INPUT` never matches). A pattern is supported where the value it applies to is
 * found by following `properties`, `additionalProperties` and `items`; anywhere else (inside
 * `anyOf`, `not`, `$defs`, …) and `patternProperties` the tool is refused.
 */
import { RE2JS } from 're2js';
import { z } from 'zod';
import { PATTERN_MAX_INPUT, patternProblem } from '../capability/pattern.js';

/** Keywords zod's converter enforces. */
const ENFORCED = new Set([
  'type', 'enum', 'const', 'anyOf', 'oneOf', 'allOf', 'not',
  'properties', 'required', 'additionalProperties', 'propertyNames', 'minProperties', 'maxProperties',
  'items', 'prefixItems', 'additionalItems', 'minItems', 'maxItems', 'uniqueItems', 'contains', 'minContains', 'maxContains',
  'minLength', 'maxLength', 'pattern', 'format',
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  '$ref', '$defs', 'definitions', 'nullable',
]);
/** Keywords that only describe: ignoring them changes no verdict. */
const ANNOTATIONS = new Set([
  '$schema', '$id', 'id', '$comment', '$anchor', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly',
  'contentEncoding', 'contentMediaType',
]);
/** Keywords whose value is one subschema, a list of them, or a map of them. */
const ONE = new Set(['not', 'additionalProperties', 'propertyNames', 'contains', 'additionalItems']);
const LIST = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems']);
const MAP = new Set(['properties', '$defs', 'definitions']);

const MAX_DEPTH = 32;
const MAX_NODES = 5000;

/** Why an upstream tool's schema was refused; the tool is hidden. Internal: `gateway.refused()` reports its message. */
export class UnsupportedSchemaError extends Error {
  constructor(readonly where: string, readonly problem: string) {
    super(`${where}: ${problem}`);
    this.name = 'UnsupportedSchemaError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function walk(node: unknown, where: string, depth: number, budget: { nodes: number }): void {
  if (typeof node === 'boolean') return;
  if (!isObject(node)) throw new UnsupportedSchemaError(where, 'a schema must be an object or a boolean');
  if (depth > MAX_DEPTH) throw new UnsupportedSchemaError(where, `nested deeper than ${MAX_DEPTH} levels`);
  if (++budget.nodes > MAX_NODES) throw new UnsupportedSchemaError(where, `more than ${MAX_NODES} subschemas`);
  for (const [key, value] of Object.entries(node)) {
    const at = `${where}.${key}`;
    if (!ENFORCED.has(key) && !ANNOTATIONS.has(key)) throw new UnsupportedSchemaError(at, `the keyword "${key}" is not enforced, so the schema is refused`);
    if (key === '$ref' && (typeof value !== 'string' || !value.startsWith('#'))) throw new UnsupportedSchemaError(at, 'only local references (#/...) are supported');
    if (ONE.has(key)) walk(value, at, depth + 1, budget);
    else if (LIST.has(key)) {
      if (!Array.isArray(value)) throw new UnsupportedSchemaError(at, 'must be a list of schemas');
      value.forEach((s, i) => walk(s, `${at}[${i}]`, depth + 1, budget));
    } else if (MAP.has(key)) {
      if (!isObject(value)) throw new UnsupportedSchemaError(at, 'must map names to schemas');
      for (const [name, s] of Object.entries(value)) walk(s, `${at}.${name}`, depth + 1, budget);
    } else if (key === 'items') {
      if (Array.isArray(value)) value.forEach((s, i) => walk(s, `${at}[${i}]`, depth + 1, budget));
      else walk(value, at, depth + 1, budget);
    }
  }
}

/** Where the patterns sit, along the paths a value can be followed without ambiguity. */
interface PatternTree {
  match?: (value: string) => boolean;
  source?: string;
  properties?: Map<string, PatternTree>;
  /** Every property the schema names: `additionalProperties` applies to the others only. */
  declared?: ReadonlySet<string>;
  additional?: PatternTree;
  items?: PatternTree;
}

const FOLLOWED = new Set(['properties', 'additionalProperties', 'items']);

const hasPattern = (node: unknown): boolean =>
  Array.isArray(node) ? node.some(hasPattern) : isObject(node) && Object.entries(node).some(([k, v]) => k === 'pattern' || hasPattern(v));

/** Takes every `pattern` out of `node` (a copy is returned) and records it in the tree. */
function extractPatterns(node: unknown, where: string): { schema: unknown; tree: PatternTree | undefined } {
  if (!isObject(node)) return { schema: node, tree: undefined };
  const schema: Record<string, unknown> = {};
  const tree: PatternTree = {};
  let found = false;
  for (const [key, value] of Object.entries(node)) {
    const at = `${where}.${key}`;
    if (key === 'pattern') {
      if (typeof value !== 'string') throw new UnsupportedSchemaError(at, 'must be a string');
      const problem = patternProblem(value);
      if (problem !== undefined) throw new UnsupportedSchemaError(at, `the pattern ${problem}`);
      const re = RE2JS.compile(value);
      // JSON Schema's pattern is a search, not a whole-value match.
      tree.match = (v) => v.length <= PATTERN_MAX_INPUT && re.matcher(v).find();
      tree.source = value;
      found = true;
      continue;
    }
    if (!FOLLOWED.has(key) || Array.isArray(value)) {
      if (hasPattern(value)) throw new UnsupportedSchemaError(at, `a pattern inside "${key}" is not supported (only along properties, additionalProperties and items)`);
      schema[key] = value;
      continue;
    }
    if (key === 'properties' && isObject(value)) {
      const props: Record<string, unknown> = {};
      for (const [name, sub] of Object.entries(value)) {
        const inner = extractPatterns(sub, `${at}.${name}`);
        props[name] = inner.schema;
        if (inner.tree !== undefined) (tree.properties ??= new Map()).set(name, inner.tree);
      }
      schema[key] = props;
      tree.declared = new Set(Object.keys(value));
      found ||= tree.properties !== undefined;
      continue;
    }
    const inner = extractPatterns(value, at);
    schema[key] = inner.schema;
    if (inner.tree !== undefined) {
      if (key === 'items') tree.items = inner.tree;
      else tree.additional = inner.tree;
      found = true;
    }
  }
  return { schema, tree: found ? tree : undefined };
}

/** The path of the first value that fails its pattern, or undefined. */
function failedPattern(tree: PatternTree, value: unknown, path: (string | number)[]): { path: (string | number)[]; source: string } | undefined {
  if (tree.match !== undefined && typeof value === 'string' && !tree.match(value)) return { path, source: tree.source! };
  if (Array.isArray(value)) {
    if (tree.items === undefined) return undefined;
    for (let i = 0; i < value.length; i++) {
      const bad = failedPattern(tree.items, value[i], [...path, i]);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  if (!isObject(value)) return undefined;
  for (const [name, v] of Object.entries(value)) {
    const sub = tree.declared?.has(name) === true ? tree.properties?.get(name) : tree.additional;
    if (sub === undefined) continue;
    const bad = failedPattern(sub, v, [...path, name]);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

/** The zod schema for an upstream tool's arguments, or an `UnsupportedSchemaError` naming what was refused. */
export function argumentSchema(inputSchema: unknown): z.ZodType {
  if (!isObject(inputSchema)) throw new UnsupportedSchemaError('inputSchema', 'must be a JSON Schema object');
  if (inputSchema.type !== 'object') throw new UnsupportedSchemaError('inputSchema.type', 'must be "object": a tool takes named arguments');
  walk(inputSchema, 'inputSchema', 0, { nodes: 0 });
  const { schema, tree } = extractPatterns(inputSchema, 'inputSchema');
  const plain = schema as Record<string, unknown>;
  const closed = isObject(plain.properties) && plain.additionalProperties === undefined ? { ...plain, additionalProperties: false } : plain;
  let converted: z.ZodType;
  try {
    converted = z.fromJSONSchema(closed as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (err) {
    // zod's message names the unsupported construct, never argument data (there is none yet).
    throw new UnsupportedSchemaError('inputSchema', err instanceof Error ? err.message.slice(0, 200) : 'zod could not convert it');
  }
  if (tree === undefined) return converted;
  return converted.superRefine((value, ctx) => {
    const bad = failedPattern(tree, value, []);
    if (bad !== undefined) ctx.addIssue({ code: 'custom', path: bad.path, message: `does not match the upstream's pattern ${JSON.stringify(bad.source)}` });
  });
}
