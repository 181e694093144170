/**
 * Argument constraints: data, not code, so they can be shown, diffed and checked for narrowing.
 *
 * A constraint is an object whose keys all must hold. Comparisons are exact: no case folding,
 * no Unicode normalization and no type coercion (`"1"` never equals `1`), because every
 * "helpful" conversion is a way around the rule.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { PATH_OUTSIDE_ROOT, pathWithinProblem } from './path-within.js';
import { compilePattern, PATTERN_MAX_INPUT, patternProblem } from './pattern.js';
import { hostAllowed, hostShapeProblem, parseStrictUrl } from './url-host.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);
export type Scalar = z.infer<typeof scalar>;

export interface ArgConstraint {
  /** Exactly this value (same type, same code points). */
  eq?: Scalar | undefined;
  /** One of these values. */
  in?: Scalar[] | undefined;
  /** A string that starts with this prefix. */
  startsWith?: string | undefined;
  /** A string that ends with this suffix. */
  endsWith?: string | undefined;
  /** A finite number at least this. */
  min?: number | undefined;
  /** A finite number at most this. */
  max?: number | undefined;
  /** A string (in UTF-16 code units) or array no longer than this. */
  maxLength?: number | undefined;
  /** A string whose whole value matches this RE2 pattern (see `compilePattern`). */
  pattern?: string | undefined;
  /** An absolute POSIX path under this absolute root, in a form no later decoding can change. */
  pathWithin?: string | undefined;
  /**
   * With `pathWithin`: also accept relative paths, resolved against the root. Only sound when
   * the tool itself resolves relative paths against that root, which the guard cannot check.
   */
  unsafeAllowRelative?: boolean | undefined;
  /** A URL whose host is one of these (`*.example.com` for subdomains) and scheme in `schemes`. */
  hostIn?: string[] | undefined;
  /** URL schemes allowed with `hostIn`; default `['https']`. */
  schemes?: string[] | undefined;
  /** Constraints on the fields of an object value. */
  fields?: Record<string, ArgConstraint> | undefined;
  /** A constraint every item of an array value must satisfy. */
  items?: ArgConstraint | undefined;
  /** When true, the constrained value may be absent; otherwise absence is a violation. */
  optional?: boolean | undefined;
}

const hostEntry = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, {
    message: 'hosts are lowercase DNS names, optionally starting with "*." (no trailing dot, no port)',
  })
  .refine((h) => hostShapeProblem(h.startsWith('*.') ? h.slice(2) : h) === undefined && !(h.startsWith('*.') && /\.[0-9]+$/.test(h)), {
    message: 'hosts are lowercase DNS names or dotted-decimal IPv4 addresses (labels of at most 63 characters; no "*." before an address)',
  });

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A name used as a key in a grant (tool names, argument fields): never a prototype key. */
export const safeKey = z
  .string()
  .min(1)
  .max(128)
  .refine((k) => !FORBIDDEN_KEYS.has(k), { message: 'reserved name (__proto__, constructor, prototype)' });

export const argConstraintSchema: z.ZodType<ArgConstraint> = z.lazy(() =>
  z
    .strictObject({
      eq: scalar.optional(),
      in: z.array(scalar).min(1).max(1000).optional(),
      startsWith: z.string().min(1).optional(),
      endsWith: z.string().min(1).optional(),
      min: z.number().finite().optional(),
      max: z.number().finite().optional(),
      maxLength: z.number().int().nonnegative().optional(),
      pattern: z
        .string()
        .superRefine((p, ctx) => {
          const why = patternProblem(p);
          if (why !== undefined) ctx.addIssue({ code: 'custom', message: `pattern refused: it ${why}` });
        })
        .optional(),
      pathWithin: z
        .string()
        .refine((p) => p === '/' || (p.startsWith('/') && !p.endsWith('/') && posix.normalize(p) === p), {
          message: 'pathWithin must be an absolute, normalized POSIX path',
        })
        .optional(),
      unsafeAllowRelative: z.boolean().optional(),
      hostIn: z.array(hostEntry).min(1).optional(),
      schemes: z.array(z.string().regex(/^[a-z][a-z0-9+.-]*$/)).min(1).optional(),
      fields: z.record(safeKey, argConstraintSchema).optional(),
      items: argConstraintSchema.optional(),
      optional: z.boolean().optional(),
    })
    .refine((c) => Object.keys(c).some((k) => k !== 'optional' && k !== 'unsafeAllowRelative'), {
      message: 'a constraint needs at least one rule',
    })
    .refine((c) => c.min === undefined || c.max === undefined || c.min <= c.max, {
      message: 'min must not exceed max',
    })
    .refine((c) => c.schemes === undefined || c.hostIn !== undefined, {
      message: 'schemes only applies together with hostIn',
    })
    .refine((c) => c.unsafeAllowRelative === undefined || c.pathWithin !== undefined, {
      message: 'unsafeAllowRelative only applies together with pathWithin',
    }),
);

/** A constraint compiled once per capability: patterns compiled, lookups turned into Sets. */
export type CompiledConstraint = (value: unknown, path: string) => string | undefined;

/** A value from the grant, quoted and cut so a reason stays one readable line. */
const show = (v: unknown): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

/**
 * What kind of value the model sent, never the value itself: arguments may carry secrets and
 * reasons end up in spans and in the model's context.
 */
function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  switch (typeof v) {
    case 'string':
      return `a string of ${v.length} character${v.length === 1 ? '' : 's'}`;
    case 'number':
      return Number.isFinite(v) ? 'a number' : `a non-finite number (${String(v)})`;
    case 'object':
      return 'an object';
    case 'undefined':
      return 'nothing';
    default:
      return `a ${typeof v}`;
  }
}

/** `(got a number)` for a value of another type; `(got another string)` for one of the same. */
function got(v: unknown, expected: unknown): string {
  if (typeof v === typeof expected && v !== null && !Array.isArray(v)) return `(got another ${typeof v})`;
  return `(got ${kind(v)})`;
}

/** A host as shown in a reason: only ever a strict-shape DNS name or IPv4 address, cut to 64. */
const showHost = (h: string): string => JSON.stringify(h.length > 64 ? `${h.slice(0, 61)}...` : h);

export interface CompileOptions {
  /**
   * What a check does with a value it cannot judge: a string longer than a pattern's input
   * bound, a URL not in the strict form, a path whose meaning depends on who decodes or resolves
   * it. `fails` (the default) is right for a grant or a permit, which allow only what they can
   * vouch for; a forbid rule uses `holds`, so an unjudgeable value is treated as forbidden rather
   * than slipping past the rule.
   */
  unjudgeable?: 'fails' | 'holds';
}

/** Compiles a validated constraint into a checker that returns a violation or undefined. */
export function compileConstraint(c: ArgConstraint, options: CompileOptions = {}): CompiledConstraint {
  const lenient = options.unjudgeable === 'holds';
  const checks: CompiledConstraint[] = [];
  if (c.eq !== undefined) {
    const eq = c.eq;
    checks.push((v, p) => (v === eq ? undefined : `${p} must equal ${show(eq)} ${got(v, eq)}`));
  }
  if (c.in !== undefined) {
    const set = new Set<unknown>(c.in);
    const listed = c.in.length > 10 ? `${c.in.slice(0, 10).map(show).join(', ')}, … ${c.in.length - 10} more` : c.in.map(show).join(', ');
    const types = new Set<string>(c.in.map((x) => typeof x));
    checks.push((v, p) => (set.has(v) ? undefined : `${p} must be one of ${listed} ${types.has(typeof v) ? `(got another ${typeof v})` : `(got ${kind(v)})`}`));
  }
  if (c.startsWith !== undefined) {
    const pre = c.startsWith;
    checks.push((v, p) =>
      typeof v === 'string' && v.startsWith(pre) ? undefined : `${p} must be a string starting with ${show(pre)} (got ${kind(v)}${typeof v === 'string' ? ' that does not' : ''})`,
    );
  }
  if (c.endsWith !== undefined) {
    const suf = c.endsWith;
    checks.push((v, p) =>
      typeof v === 'string' && v.endsWith(suf) ? undefined : `${p} must be a string ending with ${show(suf)} (got ${kind(v)}${typeof v === 'string' ? ' that does not' : ''})`,
    );
  }
  if (c.min !== undefined || c.max !== undefined) {
    const lo = c.min ?? -Infinity;
    const hi = c.max ?? Infinity;
    const range = `${c.min !== undefined ? ` >= ${lo}` : ''}${c.max !== undefined ? ` <= ${hi}` : ''}`;
    checks.push((v, p) => {
      if (typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi) return undefined;
      const what = typeof v === 'number' && Number.isFinite(v) ? (v < lo ? 'a number below the minimum' : 'a number above the maximum') : kind(v);
      return `${p} must be a number${range} (got ${what})`;
    });
  }
  if (c.maxLength !== undefined) {
    const n = c.maxLength;
    checks.push((v, p) =>
      (typeof v === 'string' || Array.isArray(v)) && v.length <= n ? undefined : `${p} must be a string or array of length <= ${n} (got ${kind(v)})`,
    );
  }
  if (c.pattern !== undefined) {
    const re = compilePattern(c.pattern);
    const shown = c.pattern.length > 80 ? `${c.pattern.slice(0, 77)}...` : c.pattern;
    checks.push((v, p) => {
      if (typeof v !== 'string') return `${p} must be a string matching the pattern /${shown}/ in full (got ${kind(v)})`;
      if (v.length > PATTERN_MAX_INPUT) {
        if (lenient) return undefined;
        return `${p} must be at most ${PATTERN_MAX_INPUT} characters to be matched against the pattern /${shown}/ (got ${kind(v)})`;
      }
      return re.test(v) ? undefined : `${p} must match the pattern /${shown}/ in full (got ${kind(v)} that does not)`;
    });
  }
  if (c.pathWithin !== undefined) {
    const root = c.pathWithin;
    const relative = c.unsafeAllowRelative === true;
    const wanted = `${relative ? 'an absolute or relative' : 'an absolute'} path within ${root}`;
    checks.push((v, p) => {
      if (typeof v !== 'string') return `${p} must be ${wanted} (got ${kind(v)})`;
      const why = pathWithinProblem(root, v, relative);
      if (why === undefined || (lenient && why !== PATH_OUTSIDE_ROOT)) return undefined;
      return `${p} must be ${wanted}, but it ${why}`;
    });
  }
  if (c.hostIn !== undefined) {
    const hosts = c.hostIn;
    const schemes = c.schemes ?? ['https'];
    checks.push((v, p) => {
      if (typeof v !== 'string') return `${p} must be a URL string (got ${kind(v)})`;
      const url = parseStrictUrl(v);
      if (typeof url === 'string') return lenient ? undefined : `${p} ${url}`;
      if (!schemes.includes(url.scheme)) return `${p} uses scheme ${showHost(url.scheme)}, allowed: ${schemes.join(', ')}`;
      return hostAllowed(url.host, hosts) ? undefined : `${p} has host ${showHost(url.host)}, allowed: ${hosts.join(', ')}`;
    });
  }
  if (c.fields !== undefined) {
    const fields = compileFields(c.fields, options);
    checks.push((v, p) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${p} must be an object (got ${kind(v)})`;
      return fields(v as Record<string, unknown>, p);
    });
  }
  if (c.items !== undefined) {
    const item = compileConstraint(c.items, options);
    checks.push((v, p) => {
      if (!Array.isArray(v)) return `${p} must be an array (got ${kind(v)})`;
      for (let i = 0; i < v.length; i++) {
        const why = item(v[i], `${p}[${i}]`);
        if (why !== undefined) return why;
      }
      return undefined;
    });
  }
  const optional = c.optional === true;
  return (v, p) => {
    if (v === undefined) return optional ? undefined : `${p} is required by the grant`;
    for (const check of checks) {
      const why = check(v, p);
      if (why !== undefined) return why;
    }
    return undefined;
  };
}

/** Compiles per-field constraints; keys are looked up as own properties only. */
export function compileFields(
  fields: Record<string, ArgConstraint>,
  options: CompileOptions = {},
): (obj: Record<string, unknown>, prefix: string) => string | undefined {
  const entries: [string, CompiledConstraint][] = Object.entries(fields).map(([k, c]) => [k, compileConstraint(c, options)]);
  return (obj, prefix) => {
    for (const [key, check] of entries) {
      const value = Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
      const why = check(value, prefix === '' ? key : `${prefix}.${key}`);
      if (why !== undefined) return why;
    }
    return undefined;
  };
}
