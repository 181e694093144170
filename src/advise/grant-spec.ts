/**
 * Reading the grant the evidence was recorded under: the grant spec `tessera grant` reads, with
 * the retrieval bounds of a tool grant. Only what the advisor uses is checked; the rest of the
 * spec (confirmation, agent token) passes through untouched.
 */
import { z } from 'zod';
import { intentSchema, toolNameSchema } from '../capability/claims.js';
import { argConstraintSchema, safeKey } from '../capability/constraints.js';
import { describeIssues } from '../util/zod-issues.js';
import type { GrantSpec } from './advisor.js';

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const retrievalSchema = z.strictObject({
  maxRecords: count.optional(),
  maxBytes: count.optional(),
  labels: z.array(z.string().min(1).max(256)).max(1000).optional(),
  perIntent: z.strictObject({ maxRecords: count.optional(), maxBytes: count.optional() }).optional(),
});

const toolSchema = z.strictObject({
  args: z.record(safeKey, argConstraintSchema).optional(),
  maxCalls: z.number().int().positive().max(1_000_000).optional(),
  retrieval: retrievalSchema.optional(),
});

export const grantSpecSchema = z.looseObject({
  issuer: z.string().min(1).optional(),
  agent: z.string().min(1).max(2048).optional(),
  audience: z.string().min(1).max(512).optional(),
  intent: intentSchema.optional(),
  ttl: z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?(s|m|h|d)$/)]).optional(),
  tools: z.record(toolNameSchema, toolSchema),
});

/** Checks a grant spec; throws a TypeError naming the first problem. */
export function parseGrantSpec(value: unknown, what = 'grant'): GrantSpec {
  const r = grantSpecSchema.safeParse(value);
  if (!r.success) throw new TypeError(`${what}: ${describeIssues(r.error, 'grant')}`);
  return r.data as GrantSpec;
}
