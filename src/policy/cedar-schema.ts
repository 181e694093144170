/**
 * Turns registered tools into a Cedar schema: principal `Agent`, resource `Tool`, one action per
 * tool whose context carries the tool's parsed arguments (from its zod schema), the intent, the
 * risk tier, the environment, the delegation depth and the time. Each attribute comes with a
 * converter built once, so a call only copies values.
 */
import { z } from 'zod';
import type { RiskTier } from './types.js';

/** What the Cedar engine needs of a tool: a guarded tool's `definition` or a plain definition. */
export interface CedarToolDefinition {
  readonly name: string;
  readonly input: z.ZodType;
  readonly risk?: RiskTier;
}

type CedarType = Record<string, unknown>;
/** Converts a parsed argument value to Cedar JSON; throws when it cannot be represented. */
type Convert = (value: unknown) => unknown;

interface Field {
  readonly type: CedarType;
  readonly convert: Convert;
}

const DECIMAL_LIMIT = 922_337_203_685_477;

const decimal = (v: unknown): unknown => {
  if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) >= DECIMAL_LIMIT) throw new RangeError('number out of Cedar decimal range');
  return { __extn: { fn: 'decimal', arg: v.toFixed(4) } };
};

/**
 * JSON Schema (as zod emits it) → Cedar type. Integers become Long, other numbers `decimal`,
 * arrays Set, objects Record. Anything else (unions, nulls, tuples) has no Cedar form and is
 * left out of the context; a policy that reads it then fails validation at start.
 */
function field(js: Record<string, unknown>): Field | undefined {
  if (Array.isArray(js.enum) && js.enum.every((e) => typeof e === 'string')) return { type: { type: 'String' }, convert: (v) => v };
  switch (js.type) {
    case 'string':
      return { type: { type: 'String' }, convert: (v) => v };
    case 'boolean':
      return { type: { type: 'Boolean' }, convert: (v) => v };
    case 'integer':
      return {
        type: { type: 'Long' },
        convert: (v) => {
          if (!Number.isSafeInteger(v)) throw new RangeError('integer out of range');
          return v;
        },
      };
    case 'number':
      return { type: { type: 'Extension', name: 'decimal' }, convert: decimal };
    case 'array': {
      const item = js.items !== null && typeof js.items === 'object' && !Array.isArray(js.items) ? field(js.items as Record<string, unknown>) : undefined;
      if (item === undefined) return undefined;
      return { type: { type: 'Set', element: item.type }, convert: (v) => (v as unknown[]).map(item.convert) };
    }
    case 'object':
      return record(js);
    default:
      return undefined;
  }
}

function record(js: Record<string, unknown>): Field {
  const props = (js.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set(Array.isArray(js.required) ? (js.required as string[]) : []);
  const attributes: Record<string, unknown> = {};
  const converters: [string, Convert][] = [];
  for (const [key, sub] of Object.entries(props)) {
    const f = field(sub);
    if (f === undefined) continue;
    attributes[key] = { ...f.type, required: required.has(key) };
    converters.push([key, f.convert]);
  }
  return {
    type: { type: 'Record', attributes },
    convert: (v) => {
      const obj = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [key, convert] of converters) {
        if (Object.hasOwn(obj, key) && obj[key] !== undefined) out[key] = convert(obj[key]);
      }
      return out;
    },
  };
}

/** The context every action shares besides `args`. */
const COMMON_CONTEXT = {
  intent: { type: 'Record', attributes: { id: { type: 'String' }, purpose: { type: 'String' } } },
  risk: { type: 'String' },
  environment: { type: 'String' },
  delegation: { type: 'Record', attributes: { depth: { type: 'Long' }, chain: { type: 'Set', element: { type: 'String' } } } },
  time: {
    type: 'Record',
    attributes: { epochSeconds: { type: 'Long' }, hour: { type: 'Long' }, minute: { type: 'Long' }, weekday: { type: 'String' } },
  },
} as const;

export interface GeneratedSchema {
  /** Cedar JSON schema (empty namespace). */
  readonly schema: Record<string, unknown>;
  /** Per tool: converts parsed arguments to the `context.args` record. */
  readonly args: ReadonlyMap<string, Convert>;
}

export function generateCedarSchema(tools: readonly CedarToolDefinition[]): GeneratedSchema {
  const actions: Record<string, unknown> = {};
  const args = new Map<string, Convert>();
  for (const tool of tools) {
    if (args.has(tool.name)) throw new TypeError(`tool "${tool.name}" is listed twice`);
    const js = z.toJSONSchema(tool.input, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
    const rec = js.type === 'object' ? record(js) : record({ properties: {} });
    args.set(tool.name, rec.convert);
    actions[tool.name] = {
      appliesTo: {
        principalTypes: ['Agent'],
        resourceTypes: ['Tool'],
        context: { type: 'Record', attributes: { args: rec.type, ...COMMON_CONTEXT } },
      },
    };
  }
  const schema = {
    '': {
      entityTypes: {
        Agent: {
          shape: {
            type: 'Record',
            attributes: {
              source: { type: 'String' },
              trustDomain: { type: 'String', required: false },
              roles: { type: 'Set', element: { type: 'String' } },
            },
          },
        },
        Tool: { shape: { type: 'Record', attributes: { risk: { type: 'String' } } } },
      },
      actions,
    },
  };
  return { schema, args };
}
