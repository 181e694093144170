/**
 * What shadow mode, evidence and retrieval reports add to a guarded call, each against the same
 * enforce-mode call in the same rounds: a shadow-mode allowed call, an allowed call with the
 * evidence opt-in (four arguments: a URL, an email, a path, a number), and an allowed call whose
 * tool reports one retrieval under a per-call and a per-intent bound (memory store).
 */
import { z } from 'zod';
import { createAuthority, createGuard, guardTool, type GuardOptions, type ToolDefinition } from '../../src/index.js';
import { round, type BenchSuite } from '../harness.js';

const suite: BenchSuite = async (h) => {
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const input = z.object({ url: z.string(), to: z.string(), path: z.string(), amount: z.number() });
  const definition: ToolDefinition<typeof input> = { name: 'crm.export', description: 'Export', input, risk: 'read' };
  const guardWith = (extra: Partial<GuardOptions>) =>
    createGuard({ audience: 'bench', trust: { issuer: authority.issuer, jwks: authority.jwks() }, ...extra });
  const plain = guardTool(guardWith({}), definition, () => 'ok');
  const shadow = guardTool(guardWith({ mode: 'shadow' }), definition, () => 'ok');
  const evidence = guardTool(guardWith({ telemetry: { evidence: true } }), definition, () => 'ok');
  const reporting = guardTool(guardWith({}), definition, (_a, ctx) => {
    ctx.retrieved({ source: 'crm.customers', records: 1, bytes: 100, labels: ['public'] });
    return 'ok';
  });
  const grant = (retrieval?: { maxRecords: number; perIntent: { maxRecords: number } }) =>
    authority.grant({
      agent: 'spiffe://example.org/agents/bench',
      audience: 'bench',
      intent: { id: 'bench', purpose: 'Benchmark' },
      tools: { 'crm.export': retrieval ? { retrieval } : {} },
      ttl: '1h',
    });
  const options = { capability: await grant() };
  const bounded = { capability: await grant({ maxRecords: 10, perIntent: { maxRecords: Number.MAX_SAFE_INTEGER } }) };
  const args = { url: 'https://api.example.com/v1/customers', to: 'ops@example.com', path: '/srv/exports/today.csv', amount: 40 };
  const ENFORCE = 'shadow: allowed call, enforce mode';
  const SHADOW = 'shadow: allowed call, shadow mode';
  const EVIDENCE = 'shadow: allowed call, evidence recorded';
  const RETRIEVAL = 'shadow: allowed call, one bounded retrieval report';
  const r = await h.rounds(
    {
      [ENFORCE]: () => plain(args, options),
      [SHADOW]: () => shadow(args, options),
      [EVIDENCE]: () => evidence(args, options),
      [RETRIEVAL]: () => reporting(args, bounded),
    },
    { iterations: 2000, rounds: 11 },
  );
  const shadowRatio = r.ratio(SHADOW, { minus: ENFORCE });
  const evidenceRatio = r.ratio(EVIDENCE, { minus: ENFORCE });
  const retrievalRatio = r.ratio(RETRIEVAL, { minus: ENFORCE });
  h.note('shadow: shadow mode over enforce mode / Ed25519 sign', shadowRatio.toFixed(3));
  h.note('shadow: evidence over none / Ed25519 sign', evidenceRatio.toFixed(3));
  h.note('shadow: a bounded retrieval report over none / Ed25519 sign', retrievalRatio.toFixed(3));
  return {
    shadow_mode_vs_ed25519_sign: round(shadowRatio),
    evidence_vs_ed25519_sign: round(evidenceRatio),
    retrieval_report_vs_ed25519_sign: round(retrievalRatio),
    shadow_mode_us: round(r.us(SHADOW) - r.us(ENFORCE)),
    evidence_us: round(r.us(EVIDENCE) - r.us(ENFORCE)),
    retrieval_report_us: round(r.us(RETRIEVAL) - r.us(ENFORCE)),
  };
};

export default suite;
