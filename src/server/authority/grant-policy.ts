/**
 * The grant policy: which identities may ask for what. Roles are matched with the rules
 * engine's identity matchers; each role has a ceiling, and a request is granted only when it
 * narrows that ceiling, decided by the same subsumption code that decides delegation. A request
 * above the ceiling is refused, never clamped: a silently smaller grant fails later, far from
 * its cause.
 */
import { z } from 'zod';
import { toolGrantSchema, type ToolGrant } from '../../capability/claims.js';
import { toolsWithin } from '../../capability/subsumption.js';
import type { AgentIdentity } from '../../identity/types.js';
import { compileGlob, compileGlobs, compileIdentityMatcher } from '../../policy/match.js';
import { identityMatcherSchema, roleNameSchema, type IdentityMatcher } from '../../policy/rules-schema.js';
import { durationSeconds, type Duration } from '../../util/time.js';
import { parseOptions } from '../../util/options.js';

export interface GrantCeiling {
  /** Tool name or glob (`tickets.*`) → the widest grant a request may ask for. */
  tools: Record<string, ToolGrant>;
  /** Longest lifetime a request may ask for: seconds or `"30s"`, `"5m"`, `"1h"`. */
  maxTtl: Duration;
  /** Deepest delegation link a holder of this role may receive; default 0 (root grants only). */
  maxDelegationDepth?: number;
}

export interface GrantRole {
  name: string;
  /** The role's identities: an identity has the role when any matcher fits (the rules engine's role syntax). */
  match: IdentityMatcher[];
  ceiling: GrantCeiling;
  /** Tools (names or globs) that need a human's approval at grant time: refused for now (`access_denied`). */
  approvalRequiredFor?: string[];
}

export interface GrantPolicy {
  roles: GrantRole[];
  /** Role names whose identities may use the admin API. */
  admins?: string[];
}

const duration = z.union([z.number().int().positive(), z.string().regex(/^\d+(s|m|h|d)$/, { message: 'a duration like "30s", "5m", "1h"' })]);
const toolPattern = z.string().min(1).max(256).regex(/^[A-Za-z0-9_*][A-Za-z0-9_.:/*-]*$/, { message: 'tool patterns use letters, digits, "_", ".", ":", "/", "-" and "*"' });

const roleSchema = z.strictObject({
  name: roleNameSchema,
  match: z.union([identityMatcherSchema, z.array(identityMatcherSchema).min(1).max(100)]),
  ceiling: z.strictObject({
    tools: z.record(toolPattern, toolGrantSchema).refine((t) => Object.keys(t).length > 0, { message: 'a ceiling grants at least one tool' }),
    maxTtl: duration,
    maxDelegationDepth: z.number().int().min(0).max(16).optional(),
  }),
  approvalRequiredFor: z.array(toolPattern).max(1000).optional(),
});

export const grantPolicySchema = z
  .strictObject({
    roles: z.array(roleSchema).min(1).max(1000),
    admins: z.array(roleNameSchema).max(100).optional(),
  })
  .superRefine((p, ctx) => {
    const names = new Set<string>();
    p.roles.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: 'custom', path: ['roles', i, 'name'], message: `duplicate role "${r.name}"` });
      names.add(r.name);
    });
    p.admins?.forEach((a, i) => {
      if (!names.has(a)) ctx.addIssue({ code: 'custom', path: ['admins', i], message: `unknown role "${a}"` });
    });
  });

export interface CompiledRole {
  readonly name: string;
  readonly maxTtlSec: number;
  readonly maxDelegationDepth: number;
  /** Undefined when `tools` is within this role's ceiling; otherwise why not. */
  outsideCeiling(tools: Record<string, ToolGrant>): string | undefined;
  /** The requested tools that need approval at grant time. */
  approvalRequired(tools: readonly string[]): string[];
}

export interface CompiledGrantPolicy {
  /** The roles this identity has, in the order the policy lists them. */
  rolesOf(identity: AgentIdentity): CompiledRole[];
  isAdmin(identity: AgentIdentity): boolean;
  /** The longest `maxTtl` of any role, seconds: the authority's own `maxTtl` must be at least this. */
  readonly longestTtlSec: number;
}

function compileRole(role: z.output<typeof roleSchema>): CompiledRole & { matches(identity: AgentIdentity): boolean } {
  const matchers = (Array.isArray(role.match) ? role.match : [role.match]).map(compileIdentityMatcher);
  // Exact names first, then patterns in the order written: the first that matches is the ceiling.
  const exact = new Map<string, ToolGrant>();
  const patterns: { test: (tool: string) => boolean; grant: ToolGrant }[] = [];
  for (const [pattern, grant] of Object.entries(role.ceiling.tools)) {
    if (pattern.includes('*')) patterns.push({ test: compileGlob(pattern), grant });
    else exact.set(pattern, grant);
  }
  const needsApproval = role.approvalRequiredFor === undefined ? () => false : compileGlobs(role.approvalRequiredFor);
  const maxTtlSec = durationSeconds(role.ceiling.maxTtl as Duration, `grantPolicy role "${role.name}" ceiling.maxTtl`);
  return {
    name: role.name,
    maxTtlSec,
    maxDelegationDepth: role.ceiling.maxDelegationDepth ?? 0,
    matches: (identity) => matchers.some((m) => m(identity)),
    outsideCeiling(tools) {
      const ceiling: Record<string, ToolGrant> = Object.create(null) as Record<string, ToolGrant>;
      for (const tool of Object.keys(tools)) {
        const grant = exact.get(tool) ?? patterns.find((p) => p.test(tool))?.grant;
        if (grant === undefined) return `the role "${role.name}" may not be granted the tool "${tool}"`;
        ceiling[tool] = grant;
      }
      const why = toolsWithin(tools, ceiling);
      return why === undefined ? undefined : `outside the ceiling of the role "${role.name}": the request ${why.replace(/\b(the|its) parent\b/g, 'the ceiling')}`;
    },
    approvalRequired: (tools) => tools.filter((t) => needsApproval(t)),
  };
}

/** Validates a grant policy (throws a TypeError naming the field) and compiles it once. */
export function compileGrantPolicy(policy: GrantPolicy): CompiledGrantPolicy {
  const parsed = parseOptions(grantPolicySchema, policy, 'grantPolicy');
  const roles = parsed.roles.map(compileRole);
  const admins = new Set(parsed.admins ?? []);
  return {
    rolesOf: (identity) => roles.filter((r) => r.matches(identity)),
    isAdmin: (identity) => roles.some((r) => admins.has(r.name) && r.matches(identity)),
    longestTtlSec: Math.max(...roles.map((r) => r.maxTtlSec)),
  };
}
