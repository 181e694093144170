/** The gateway's options, validated once when it is created. */
import { z } from 'zod';
import type { GuardMode, GuardOptions } from '../guard/types.js';
import { RISK_TIERS, type RiskTier } from '../policy/types.js';
import type { HttpUpstream, RestartOptions, StdioUpstream } from './upstream.js';

export interface UpstreamToolOptions {
  /** Overrides the tier the tool's annotations imply. */
  risk?: RiskTier;
  /** `shadow`: decide and record, then forward anyway; over the upstream's and the guard's mode. */
  mode?: GuardMode;
  /** Never listed, never callable through the gateway. */
  hidden?: boolean;
  /** The call credential's `aud`; default the namespaced tool name. */
  credentialAudience?: string;
}

export interface UpstreamOptions {
  /** A server the gateway starts as a child process and speaks to over stdio. */
  stdio?: StdioUpstream;
  /** A server reached over Streamable HTTP; each call's credential is forwarded in a header. */
  http?: HttpUpstream;
  /** Tier of every tool of this upstream, over its annotations (a tool's own `risk` wins). */
  risk?: RiskTier;
  /** `shadow` for every tool of this upstream (a tool's own `mode` wins); the guard's mode otherwise. */
  mode?: GuardMode;
  /** Per tool, by its name at the upstream. */
  tools?: Record<string, UpstreamToolOptions>;
  /** Pass the upstream's resources through (not guarded by the capability); default false. */
  resources?: boolean;
  /** Pass the upstream's prompts through, namespaced; default false. */
  prompts?: boolean;
}

export interface McpGatewayOptions {
  /**
   * The guard every call goes through. Its `approver` is asked when the client cannot answer an
   * MCP elicitation (e.g. `createRemoteApprover`); without one such calls are denied.
   */
  guard: GuardOptions;
  /** By namespace: tools are served as `<namespace>.<tool>`. Letters, digits, "_" and "-". */
  upstreams: Record<string, UpstreamOptions>;
  /** The capability for clients served over stdio: a token, or a function returning the current one. */
  capability?: string | (() => string | Promise<string>);
  timeouts?: {
    /** Starting an upstream and its MCP initialize, ms; default 20,000. */
    connectMs?: number;
    /** Each request to an upstream, ms; default 60,000. */
    requestMs?: number;
  };
  /** Restart backoff of stdio upstreams that exit. */
  restart?: RestartOptions;
  /** Told of upstream restarts and hidden tools, as one line of text; never a token or an argument. */
  onEvent?: (message: string) => void;
}

const ms = (max: number) => z.number().int().positive().max(max);
const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function');
const risk = z.enum(RISK_TIERS as [RiskTier, ...RiskTier[]]);
const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name');

export const stdioUpstreamSchema = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).max(256).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().min(1).optional(),
});

/** Shadow mode per upstream or tool: every stage decides and records, and the call is forwarded anyway. */
const guardMode = z.enum(['enforce', 'shadow']);

export const httpUpstreamSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(headerName, z.string()).optional(),
  credentialHeader: headerName.optional(),
});

export const upstreamSchema = z
  .strictObject({
    stdio: stdioUpstreamSchema.optional(),
    http: httpUpstreamSchema.optional(),
    risk: risk.optional(),
    mode: guardMode.optional(),
    tools: z
      .record(
        z.string().min(1).max(128),
        z.strictObject({ risk: risk.optional(), mode: guardMode.optional(), hidden: z.boolean().optional(), credentialAudience: z.string().min(1).optional() }),
      )
      .optional(),
    resources: z.boolean().optional(),
    prompts: z.boolean().optional(),
  })
  .refine((u) => (u.stdio === undefined) !== (u.http === undefined), { message: 'give exactly one of stdio or http' });

export const upstreamsSchema = z
  .record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'upstream names use letters, digits, "_" and "-" (they prefix tool names)'), upstreamSchema)
  .refine((u) => Object.keys(u).length > 0, { message: 'configure at least one upstream' });

export const restartSchema = z.strictObject({ initialMs: ms(60_000).optional(), maxMs: ms(3_600_000).optional(), resetAfterMs: ms(3_600_000).optional() });
export const gatewayTimeoutsSchema = z.strictObject({ connectMs: ms(300_000).optional(), requestMs: ms(3_600_000).optional() });

export const gatewayOptionsSchema = z.strictObject({
  guard: z.custom<GuardOptions>((g) => g !== null && typeof g === 'object' && !Array.isArray(g), 'must be the guard options (see createGuard)'),
  upstreams: upstreamsSchema,
  capability: z.union([z.string().min(1), fn]).optional(),
  timeouts: gatewayTimeoutsSchema.optional(),
  restart: restartSchema.optional(),
  onEvent: fn.optional(),
});
