/**
 * Reading the grant the evidence was recorded under: the grant spec `tessera grant` reads, with
 * the retrieval bounds of a tool grant. Only what the advisor uses is checked; the rest of the
 * spec (confirmation, agent token) passes through untouched.
 */
import { z } from 'zod';
import { intentSchema, toolGrantSchema, toolNameSchema } from '../capability/claims.js';
import { describeIssues } from '../util/zod-issues.js';
import type { GrantSpec } from './advisor.js';

export const grantSpecSchema = z.looseObject({
  issuer: z.string().min(1).optional(),
  agent: z.string().min(1).max(2048).optional(),
  audience: z.string().min(1).max(512).optional(),
  intent: intentSchema.optional(),
  ttl: z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?(s|m|h|d)$/)]).optional(),
  tools: z.record(toolNameSchema, toolGrantSchema),
});

/** Checks a grant spec; throws a TypeError naming the first problem. */
export function parseGrantSpec(value: unknown, what = 'grant'): GrantSpec {
  const r = grantSpecSchema.safeParse(value);
  if (!r.success) throw new TypeError(`${what}: ${describeIssues(r.error, 'grant')}`);
  return r.data as GrantSpec;
}
