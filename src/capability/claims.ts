/**
 * The capability token's claims and the grant request, as zod schemas.
 */
import { z } from 'zod';
import { argConstraintSchema, safeKey, type ArgConstraint } from './constraints.js';

/** Tool names: dotted identifiers such as `email.send` or `fs:read`. */
export const toolNameSchema = safeKey.pipe(
  z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$/, {
    message: 'tool names use letters, digits, "_", ".", ":", "/" and "-"',
  }),
);

export interface ToolGrant {
  /** Constraints per top-level argument. */
  args?: Record<string, ArgConstraint> | undefined;
  /** How many calls this capability may make to this tool, across every process sharing the store. */
  maxCalls?: number | undefined;
  /** Bounds on what the tool may read, as it reports with `ctx.retrieved(...)`. */
  retrieval?: RetrievalBound | undefined;
}

/** Retrieval bounds: per call, and (`perIntent`) cumulative across every process sharing the store. */
export interface RetrievalBound {
  /** Records one call may read. */
  maxRecords?: number | undefined;
  /** Bytes one call may read. */
  maxBytes?: number | undefined;
  /** The only data labels a call may read; a report without labels passes. */
  labels?: string[] | undefined;
  /** Cumulative bounds for every call of this tool under the intent. */
  perIntent?: { maxRecords?: number | undefined; maxBytes?: number | undefined } | undefined;
}

const retrievalCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const retrievalBoundSchema: z.ZodType<RetrievalBound> = z.strictObject({
  maxRecords: retrievalCount.optional(),
  maxBytes: retrievalCount.optional(),
  labels: z.array(z.string().min(1).max(128)).max(256).optional(),
  perIntent: z.strictObject({ maxRecords: retrievalCount.optional(), maxBytes: retrievalCount.optional() }).optional(),
});

export const toolGrantSchema: z.ZodType<ToolGrant> = z.strictObject({
  args: z.record(safeKey, argConstraintSchema).optional(),
  maxCalls: z.number().int().positive().max(1_000_000).optional(),
  retrieval: retrievalBoundSchema.optional(),
});

export const intentSchema = z.strictObject({
  /** Stable id of the task, e.g. a ticket or job id. */
  id: z.string().min(1).max(200),
  /** What the task is for, in words a human approver reads. */
  purpose: z.string().min(1).max(1000),
});
export type Intent = z.infer<typeof intentSchema>;

export const toolsSchema = z
  .record(toolNameSchema, toolGrantSchema)
  .refine((t) => Object.keys(t).length > 0, { message: 'grant at least one tool' });

/** RFC 8693 actor claim: who acts, and (nested) who acted before. Informational only. */
export interface ActorClaim {
  sub: string;
  act?: ActorClaim | undefined;
}
export const actorSchema: z.ZodType<ActorClaim> = z.lazy(() =>
  z.object({ sub: z.string().min(1), act: actorSchema.optional() }),
);

export const capabilityClaimsSchema = z.object({
  iss: z.string().min(1),
  sub: z.string().min(1).max(2048),
  aud: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  iat: z.number().int(),
  /**
   * When the token was issued, in ms since the epoch (the authority's and `delegate()`'s own
   * clock; see `issuedAtMs`). Revocation by agent or intent compares against it, so "until now"
   * means until this millisecond, not until the end of the second.
   */
  iat_ms: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  nbf: z.number().int(),
  exp: z.number().int(),
  // The root's jti is its capability id in store keys; a delegated link's id is derived (see
  // `capabilityIds`), so a jti a delegating agent chooses never names a store key. The alphabet
  // has no "." so that no jti can equal a derived id.
  jti: z.string().min(16).max(128).regex(/^[A-Za-z0-9_-]+$/, { message: 'jti uses only letters, digits, "_" and "-"' }),
  intent: intentSchema,
  tools: toolsSchema,
  /** RFC 7800 confirmation: the RFC 7638 thumbprint of the key that must prove possession. */
  cnf: z.object({ jkt: z.string().min(43).max(43) }).optional(),
  /** RFC 8693 actor chain for a delegated capability. */
  act: actorSchema.optional(),
  /** The parent capability (compact JWS) of a delegated capability, for offline verification. */
  prt: z.string().optional(),
});
export type CapabilityClaims = z.infer<typeof capabilityClaimsSchema>;

/**
 * When a token was issued, in ms, for revocation. A token without `iat_ms` counts as issued at the
 * first millisecond of its `iat` second (fail closed): a revocation made anywhere within that
 * second refuses it.
 */
export function issuedAtMs(claims: Pick<CapabilityClaims, 'iat' | 'iat_ms'>): number {
  return claims.iat_ms ?? claims.iat * 1000;
}
