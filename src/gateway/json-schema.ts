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
 */
import { z } from 'zod';

/** Keywords zod's converter enforces. */
const ENFORCED = new Set([
  'type', 'enum', 'const', 'anyOf', 'oneOf', 'allOf', 'not',
  'properties', 'required', 'additionalProperties', 'patternProperties', 'propertyNames', 'minProperties', 'maxProperties',
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
const MAP = new Set(['properties', 'patternProperties', '$defs', 'definitions']);

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

/** The zod schema for an upstream tool's arguments, or an `UnsupportedSchemaError` naming what was refused. */
export function argumentSchema(inputSchema: unknown): z.ZodType {
  if (!isObject(inputSchema)) throw new UnsupportedSchemaError('inputSchema', 'must be a JSON Schema object');
  if (inputSchema.type !== 'object') throw new UnsupportedSchemaError('inputSchema.type', 'must be "object": a tool takes named arguments');
  walk(inputSchema, 'inputSchema', 0, { nodes: 0 });
  const closed =
    isObject(inputSchema.properties) && inputSchema.additionalProperties === undefined && inputSchema.patternProperties === undefined
      ? { ...inputSchema, additionalProperties: false }
      : inputSchema;
  try {
    return z.fromJSONSchema(closed as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (err) {
    // zod's message names the unsupported construct, never argument data (there is none yet).
    throw new UnsupportedSchemaError('inputSchema', err instanceof Error ? err.message.slice(0, 200) : 'zod could not convert it');
  }
}
