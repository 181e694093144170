/**
 * The advisor's recorded scenario: a reporting agent's tools, the broad grant it started with, and
 * what it did per task. Shared by the rollout test (shadow, advise, enforce) and the tripwires'
 * no-false-trip test.
 */
import { z } from 'zod';
import { createGuard, guardTool, type Authority, type GuardMode, type GuardOptions } from '../../src/index.js';
import type { createManualClock, createSpanCapture } from '../../src/testing/index.js';

export const ISSUER = 'https://authz.example.com';
export const AUDIENCE = 'ops-app';
export const AGENT = 'spiffe://example.org/agents/reporter';
export const PURPOSE = 'Monthly refund report';

/** The grant the team started with: broad, as grants written by hand are. */
export const RECORDED = {
  issuer: ISSUER,
  agent: AGENT,
  audience: AUDIENCE,
  intent: { id: 'report-2026-10', purpose: PURPOSE },
  ttl: '1h',
  tools: {
    'fs.read': { args: { path: { pathWithin: '/srv' } } },
    'web.get': { args: { url: { hostIn: ['*.example.com'] } } },
    'payments.refund': { args: { amount: { min: 0, max: 10_000 } }, maxCalls: 50 },
    'db.query': {},
    'fs.delete': {},
  },
} as const;

export type Call = readonly [tool: string, args: Record<string, unknown>];

/** What the agent did, per task. */
export const TASKS: Record<string, readonly Call[]> = {
  'report-2026-10': [
    ['fs.read', { path: '/srv/app/reports/q1.csv' }],
    ['fs.read', { path: '/srv/app/reports/2026/q2.csv' }],
    ['web.get', { url: 'https://api.example.com/v1/orders?month=10' }],
    ['db.query', { table: 'orders', rows: 40 }],
    ['payments.refund', { amount: 25, currency: 'EUR' }],
  ],
  'report-2026-11': [
    ['fs.read', { path: '/srv/app/reports/q3.csv' }],
    ['web.get', { url: 'https://status.example.com/' }],
    ['db.query', { table: 'orders', rows: 10 }],
    ['payments.refund', { amount: 80, currency: 'EUR' }],
  ],
};
/** Calls the recorded grant refuses: in shadow mode they run, are recorded as denials, and shape nothing. */
export const REFUSED: readonly Call[] = [['fs.read', { path: '/home/admin/.ssh/id_ed25519' }]];

export function world(
  authority: Authority,
  clock: ReturnType<typeof createManualClock>,
  mode: GuardMode,
  tracer: ReturnType<typeof createSpanCapture>['tracer'],
  extra: Partial<GuardOptions> = {},
) {
  const guard = createGuard({ audience: AUDIENCE, trust: { issuer: ISSUER, jwks: () => authority.jwks() }, clock, mode, telemetry: { tracer, evidence: true }, ...extra });
  const ran: string[] = [];
  const tool = <T extends z.ZodRawShape>(name: string, input: T, body: (args: z.infer<z.ZodObject<T>>, ctx: { retrieved: (r: { source: string; records: number; bytes: number; labels: string[] }) => void }) => unknown) =>
    guardTool(guard, { name, description: name, input: z.object(input), risk: 'read' }, (args, ctx) => {
      ran.push(name);
      return body(args as z.infer<z.ZodObject<T>>, ctx);
    });
  const tools: Record<string, (args: Record<string, unknown>, options: { capability: string }) => Promise<unknown>> = {
    'fs.read': tool('fs.read', { path: z.string() }, (a) => `contents of ${a.path}`),
    'fs.delete': tool('fs.delete', { path: z.string() }, () => 'deleted'),
    'web.get': tool('web.get', { url: z.string() }, () => 'page'),
    'payments.refund': tool('payments.refund', { amount: z.number(), currency: z.string() }, () => 'refunded'),
    'db.query': tool('db.query', { table: z.string(), rows: z.number().int() }, (a, ctx) => {
      ctx.retrieved({ source: 'crm', records: a.rows, bytes: a.rows * 100, labels: ['customer'] });
      return `${a.rows} rows`;
    }),
  } as never;
  return { guard, tools, ran };
}

