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

/**
 * A number as Cedar's `decimal` (a 64-bit integer of ten-thousandths), written exactly or not at
 * all. The number is taken as JavaScript writes it (its shortest round-trip form), so 0.1 is
 * 0.1 and not the binary fraction nearest to it. More than 4 fractional digits, a value outside
 * ±922337203685477.5807 or a non-finite number throws: rounding 100.00004 to 100.0 would let it
 * pass a policy forbidding more than 100.0.
 */
export function toCedarDecimal(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError('a decimal argument is not a finite number');
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(v));
  if (m === null) throw new RangeError('a decimal argument has no exact decimal form');
  const sign = m[1]!;
  let digits = m[2]! + (m[3] ?? '');
  // Position of the decimal point within `digits`, after applying the exponent.
  let point = m[2]!.length + Number(m[4] ?? 0);
  if (point <= 0) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  } else if (point > digits.length) {
    digits += '0'.repeat(point - digits.length);
  }
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  const fraction = digits.slice(point).replace(/0+$/, '');
  if (fraction.length > 4) throw new RangeError('a decimal argument has more than 4 fractional digits, which Cedar cannot hold exactly');
  const ten4 = fraction.padEnd(4, '0');
  const limit = sign === '-' ? '9223372036854775808' : '9223372036854775807';
  const scaled = (whole + ten4).replace(/^0+(?=\d)/, '');
  if (scaled.length > limit.length || (scaled.length === limit.length && scaled > limit)) {
    throw new RangeError('a decimal argument is outside the range of Cedar decimal');
  }
  return `${sign === '-' && scaled !== '0' ? '-' : ''}${whole}.${fraction.length === 0 ? '0' : fraction}`;
}

const decimal = (v: unknown): unknown => ({ __extn: { fn: 'decimal', arg: toCedarDecimal(v) } });

/** A number as Cedar's `Long`: an integer JavaScript holds exactly (a safe integer), nothing else. */
export function toCedarLong(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new RangeError('an integer argument is not a safe integer (non-integer, non-finite or beyond ±2^53 - 1), which Cedar Long cannot take exactly');
  }
  // -0 is an integer Cedar writes as 0.
  return v === 0 ? 0 : v;
}

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
        convert: toCedarLong,
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
