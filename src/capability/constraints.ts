/**
 * Argument constraints: data, not code, so they can be shown, diffed and checked for narrowing.
 *
 * A constraint is an object whose keys all must hold. Comparisons are exact: no case folding,
 * no Unicode normalization and no type coercion (`"1"` never equals `1`), because every
 * "helpful" conversion is a way around the rule.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { compileSafePattern, SAFE_PATTERN_MAX_INPUT, unsafePatternReason } from './safe-pattern.js';

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
  /** A string matching this safe, whole-value pattern (see `unsafePatternReason`). */
  pattern?: string | undefined;
  /** A POSIX path that stays under this absolute root after normalization. */
  pathWithin?: string | undefined;
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
          const why = unsafePatternReason(p);
          if (why) ctx.addIssue({ code: 'custom', message: `unsafe pattern: ${why}` });
        })
        .optional(),
      pathWithin: z
        .string()
        .refine((p) => p === '/' || (p.startsWith('/') && !p.endsWith('/') && posix.normalize(p) === p), {
          message: 'pathWithin must be an absolute, normalized POSIX path',
        })
        .optional(),
      hostIn: z.array(hostEntry).min(1).optional(),
      schemes: z.array(z.string().regex(/^[a-z][a-z0-9+.-]*$/)).min(1).optional(),
      fields: z.record(safeKey, argConstraintSchema).optional(),
      items: argConstraintSchema.optional(),
      optional: z.boolean().optional(),
    })
    .refine((c) => Object.keys(c).some((k) => k !== 'optional'), {
      message: 'a constraint needs at least one rule',
    })
    .refine((c) => c.min === undefined || c.max === undefined || c.min <= c.max, {
      message: 'min must not exceed max',
    })
    .refine((c) => c.schemes === undefined || c.hostIn !== undefined, {
      message: 'schemes only applies together with hostIn',
    }),
);

/** A constraint compiled once per capability: regexes built, lookups turned into Maps. */
export type CompiledConstraint = (value: unknown, path: string) => string | undefined;

const show = (v: unknown): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

const ENCODED_TRAVERSAL = /%(2e|2f|5c|00)/i;

function checkPathWithin(root: string, value: string): boolean {
  // Encoded separators and dots, backslashes and NUL are refused rather than decoded: a
  // downstream that decodes again would otherwise see a different path than the one we checked.
  if (value.length === 0 || value.includes('\0') || value.includes('\\') || ENCODED_TRAVERSAL.test(value)) {
    return false;
  }
  const resolved = posix.resolve(root, value);
  const base = root === '/' ? '/' : `${root.replace(/\/+$/, '')}/`;
  return resolved === base.slice(0, -1) || resolved.startsWith(base);
}

function checkHost(allowed: readonly string[], schemes: readonly string[], value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  const scheme = url.protocol.slice(0, -1);
  if (!schemes.includes(scheme)) return `uses scheme "${scheme}", allowed: ${schemes.join(', ')}`;
  if (url.username !== '' || url.password !== '') return 'must not carry credentials in the URL';
  const host = url.hostname;
  for (const entry of allowed) {
    if (entry.startsWith('*.')) {
      if (host.endsWith(entry.slice(1)) && host.length > entry.length - 1) return undefined;
    } else if (host === entry) {
      return undefined;
    }
  }
  return `has host ${show(host)}, allowed: ${allowed.join(', ')}`;
}

/** Compiles a validated constraint into a checker that returns a violation or undefined. */
export function compileConstraint(c: ArgConstraint): CompiledConstraint {
  const checks: CompiledConstraint[] = [];
  if (c.eq !== undefined) {
    const eq = c.eq;
    checks.push((v, p) => (v === eq ? undefined : `${p} must equal ${show(eq)}`));
  }
  if (c.in !== undefined) {
    const set = new Set<unknown>(c.in);
    checks.push((v, p) => (set.has(v) ? undefined : `${p} must be one of ${c.in!.map(show).join(', ')}`));
  }
  if (c.startsWith !== undefined) {
    const pre = c.startsWith;
    checks.push((v, p) =>
      typeof v === 'string' && v.startsWith(pre) ? undefined : `${p} must be a string starting with ${show(pre)}`,
    );
  }
  if (c.endsWith !== undefined) {
    const suf = c.endsWith;
    checks.push((v, p) =>
      typeof v === 'string' && v.endsWith(suf) ? undefined : `${p} must be a string ending with ${show(suf)}`,
    );
  }
  if (c.min !== undefined || c.max !== undefined) {
    const lo = c.min ?? -Infinity;
    const hi = c.max ?? Infinity;
    checks.push((v, p) =>
      typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi
        ? undefined
        : `${p} must be a number${c.min !== undefined ? ` >= ${lo}` : ''}${c.max !== undefined ? ` <= ${hi}` : ''}`,
    );
  }
  if (c.maxLength !== undefined) {
    const n = c.maxLength;
    checks.push((v, p) =>
      (typeof v === 'string' || Array.isArray(v)) && v.length <= n ? undefined : `${p} must have length <= ${n}`,
    );
  }
  if (c.pattern !== undefined) {
    const re = compileSafePattern(c.pattern);
    checks.push((v, p) =>
      typeof v === 'string' && v.length <= SAFE_PATTERN_MAX_INPUT && re.test(v)
        ? undefined
        : `${p} must match the pattern /${c.pattern}/`,
    );
  }
  if (c.pathWithin !== undefined) {
    const root = c.pathWithin;
    checks.push((v, p) =>
      typeof v === 'string' && checkPathWithin(root, v) ? undefined : `${p} must be a path within ${root}`,
    );
  }
  if (c.hostIn !== undefined) {
    const hosts = c.hostIn;
    const schemes = c.schemes ?? ['https'];
    checks.push((v, p) => {
      if (typeof v !== 'string') return `${p} must be a URL string`;
      const why = checkHost(hosts, schemes, v);
      return why === undefined ? undefined : `${p} ${why}`;
    });
  }
  if (c.fields !== undefined) {
    const fields = compileFields(c.fields);
    checks.push((v, p) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${p} must be an object`;
      return fields(v as Record<string, unknown>, p);
    });
  }
  if (c.items !== undefined) {
    const item = compileConstraint(c.items);
    checks.push((v, p) => {
      if (!Array.isArray(v)) return `${p} must be an array`;
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
): (obj: Record<string, unknown>, prefix: string) => string | undefined {
  const entries: [string, CompiledConstraint][] = Object.entries(fields).map(([k, c]) => [k, compileConstraint(c)]);
  return (obj, prefix) => {
    for (const [key, check] of entries) {
      const value = Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
      const why = check(value, prefix === '' ? key : `${prefix}.${key}`);
      if (why !== undefined) return why;
    }
    return undefined;
  };
}
