/**
 * The rules document: roles mapped from identity to tools and risk tiers, and conditions on the
 * request. Data, not code, so it can be reviewed, diffed and validated before a guard starts.
 */
import { z } from 'zod';
import { argConstraintSchema, safeKey } from '../capability/constraints.js';
import { RISK_TIERS, type RiskTier } from './types.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const scalarOrList = z.union([scalar, z.array(scalar).min(1).max(1000)]);

/** A glob: `*` matches within one `/`-separated segment, `**` across segments. */
const glob = z.string().min(1).max(2048);
const globs = z.array(glob).min(1).max(1000);

const ruleId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, { message: 'rule ids are letters, digits and . _ : / -' });

const roleName = safeKey.pipe(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: 'role names are letters, digits and . _ -' }));

const identityMatcher = z
  .strictObject({
    /** SPIFFE ID pattern, e.g. `spiffe://example.org/agents/*`. */
    spiffe: glob.refine((s) => s.startsWith('spiffe://'), { message: 'a spiffe pattern starts with spiffe://' }).optional(),
    /** The OIDC issuer (or SPIFFE trust domain) that proved the identity. */
    issuer: z.string().min(1).optional(),
    /** Claims the identity must carry: a value equals, or a list claim includes, the given one(s). */
    claims: z.record(safeKey, scalarOrList).optional(),
  })
  .refine((m) => m.spiffe !== undefined || m.issuer !== undefined || m.claims !== undefined, {
    message: 'an identity matcher needs spiffe, issuer or claims',
  });

const numberTest = z
  .strictObject({
    eq: z.number().int().optional(),
    lt: z.number().int().optional(),
    lte: z.number().int().optional(),
    gt: z.number().int().optional(),
    gte: z.number().int().optional(),
  })
  .refine((t) => Object.keys(t).length > 0, { message: 'give at least one of eq, lt, lte, gt, gte' });

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'times are HH:MM, 24-hour' });

const timeWindow = z
  .strictObject({
    days: z.array(z.enum(WEEKDAYS)).min(1).optional(),
    /** `from` inclusive, `to` exclusive; a window may wrap past midnight (`22:00`–`06:00`). */
    hours: z.strictObject({ from: hhmm, to: hhmm }).optional(),
    /** IANA time zone; default UTC. */
    timeZone: z
      .string()
      .refine(
        (tz) => {
          try {
            new Intl.DateTimeFormat('en-US', { timeZone: tz });
            return true;
          } catch {
            return false;
          }
        },
        { message: 'unknown IANA time zone' },
      )
      .optional(),
  })
  .refine((w) => w.days !== undefined || w.hours !== undefined, { message: 'a time window needs days or hours' });

const rate = z.strictObject({
  /** Calls allowed per agent in the window before the rule matches. */
  max: z.number().int().nonnegative(),
  /** Window length: `"30s"`, `"1m"`, `"1h"`. */
  per: z.string().regex(/^\d+(s|m|h|d)$/, { message: 'per is a duration like "30s", "1m", "1h"' }),
});

export const ruleSchema = z
  .strictObject({
    id: ruleId,
    effect: z.enum(['permit', 'forbid', 'require_approval']),
    description: z.string().max(500).optional(),
    /** Shown in the denial or approval request; say what to change. */
    reason: z.string().max(500).optional(),
    roles: z.array(roleName).min(1).optional(),
    agents: globs.optional(),
    tools: globs.optional(),
    risk: z.array(z.enum(RISK_TIERS as [RiskTier, ...RiskTier[]])).min(1).optional(),
    args: z.record(safeKey, argConstraintSchema).optional(),
    intent: z
      .strictObject({
        id: globs.optional(),
        /** Matches when the purpose contains any of these (case-insensitive). */
        purposeIncludes: z.array(z.string().min(1).max(200)).min(1).optional(),
      })
      .refine((i) => i.id !== undefined || i.purposeIncludes !== undefined, { message: 'intent needs id or purposeIncludes' })
      .optional(),
    environment: z.record(safeKey, scalarOrList).optional(),
    during: timeWindow.optional(),
    outside: timeWindow.optional(),
    delegationDepth: numberTest.optional(),
    rate: rate.optional(),
    /** On a permit: `false` lets a high-risk tier through without approval; `true` always asks. */
    requireApproval: z.boolean().optional(),
  })
  .superRefine((r, ctx) => {
    if (r.rate !== undefined && r.effect === 'permit') {
      ctx.addIssue({ code: 'custom', path: ['rate'], message: 'rate limits a call, so it belongs on a forbid or require_approval rule' });
    }
    if (r.requireApproval !== undefined && r.effect !== 'permit') {
      ctx.addIssue({ code: 'custom', path: ['requireApproval'], message: 'requireApproval only applies to permit rules' });
    }
  });

export const rulesDocumentSchema = z
  .strictObject({
    version: z.literal(1),
    /** Role name → identity matchers; an agent has the role when any matcher fits. */
    roles: z.record(roleName, z.array(identityMatcher).min(1)).optional(),
    /** When no rule matches: `deny` (default) or `allow`. High-risk tiers then still need approval. */
    default: z.enum(['deny', 'allow']).optional(),
    rules: z.array(ruleSchema).max(10_000),
  })
  .superRefine((doc, ctx) => {
    const seen = new Set<string>();
    doc.rules.forEach((r, i) => {
      if (seen.has(r.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${r.id}"` });
      seen.add(r.id);
      r.roles?.forEach((role, j) => {
        if (doc.roles === undefined || !Object.hasOwn(doc.roles, role)) {
          ctx.addIssue({ code: 'custom', path: ['rules', i, 'roles', j], message: `unknown role "${role}"` });
        }
      });
    });
  });

export type RulesDocument = z.input<typeof rulesDocumentSchema>;
export type Rule = z.output<typeof ruleSchema>;
export type TimeWindow = z.output<typeof timeWindow>;
export type IdentityMatcher = z.output<typeof identityMatcher>;
/** The role syntax, shared with the authority's grant policy so both match identities alike. */
export { identityMatcher as identityMatcherSchema, roleName as roleNameSchema };
