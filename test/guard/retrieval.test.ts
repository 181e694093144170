import { generateText, stepCountIs } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import type { LanguageModelV3GenerateResult } from '@ai-sdk/provider';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { toAISDKTools } from '../../src/adapters/ai-sdk.js';
import { createMemoryStore, guardTool, isToolDeniedError, type Guard, type RetrievalReport, type TesseraStore } from '../../src/index.js';
import { toolGrantWithin } from '../../src/capability/subsumption.js';
import { createTestAuthority, type TestAuthority } from '../../src/testing/index.js';
import { RESEARCHER, setupChain } from '../delegation/chain-fixtures.js';

const ROW = 'CUSTOMER-ROW-SECRET';
let t: TestAuthority | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** A CRM search that reads `records` rows of `bytes` bytes each with `labels`, reports it, and returns them. */
function crm(guard: Guard, mode?: 'shadow' | 'enforce') {
  const ran: string[] = [];
  const search = guardTool(
    guard,
    {
      name: 'crm.search',
      description: 'Search customers',
      input: z.object({ records: z.number().int(), bytes: z.number().int().default(0), labels: z.array(z.string()).default([]), swallow: z.boolean().default(false) }),
      risk: 'read',
      ...(mode ? { mode } : {}),
    },
    (args, ctx) => {
      ran.push(`read ${args.records}`);
      const rows = Array.from({ length: args.records }, (_, i) => `${ROW}-${i}`);
      try {
        ctx.retrieved({ source: 'crm.customers', records: args.records, bytes: args.bytes, labels: args.labels });
      } catch (err) {
        // A tool that ignores the denial still cannot hand its data on.
        if (!args.swallow) throw err;
      }
      return rows;
    },
  );
  return { search, ran };
}

const outcomeOf = (p: Promise<unknown>): Promise<unknown> => p.then((v) => ({ value: v }), (e: unknown) => e);
const codeOf = (r: unknown): string | undefined => (isToolDeniedError(r) ? r.code : undefined);

describe('ctx.retrieved', () => {
  test('records a tessera.retrieval span event per report', async () => {
    t = await createTestAuthority();
    const { search } = crm(t.guard);
    const token = await t.grant({ tools: { 'crm.search': {} } });
    await t.guard.withCapability(token, () => search({ records: 3, bytes: 120, labels: ['pii'] }));
    const span = t.expectSpan({ tool: 'crm.search', decision: 'allow', times: 1 });
    expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'tessera.retrieval',
        { 'tessera.retrieval.source': 'crm.customers', 'tessera.retrieval.records': 3, 'tessera.retrieval.bytes': 120, 'tessera.retrieval.labels': ['pii'] },
      ],
    ]);
  });

  test.each([
    ['records over maxRecords', { records: 101 }, /read 101 records in one call; the grant allows at most 100/],
    ['bytes over maxBytes', { records: 1, bytes: 5000 }, /read 5000 bytes in one call; the grant allows at most 4096/],
    ['a label the grant does not allow', { records: 1, labels: ['public', 'pii'] }, /labelled "pii", which the grant does not allow/],
  ])('%s: denied retrieval_limit_exceeded, the result withheld, the span shows it', async (_name, args, reason) => {
    t = await createTestAuthority();
    const { search, ran } = crm(t.guard);
    const token = await t.grant({ tools: { 'crm.search': { retrieval: { maxRecords: 100, maxBytes: 4096, labels: ['public', 'internal'] } } } });
    const r = await outcomeOf(t.guard.withCapability(token, () => search(args)));
    expect(codeOf(r)).toBe('retrieval_limit_exceeded');
    expect(String((r as Error).message)).toMatch(reason);
    expect(JSON.stringify(r)).not.toContain(ROW);
    expect(ran).toHaveLength(1);
    const span = t.expectSpan({ tool: 'crm.search', decision: 'deny', code: 'retrieval_limit_exceeded', times: 1 });
    expect(span.attributes['tessera.standards']).toEqual(['ASI02', 'T2', 'L2', 'MEASURE 2.10']);
    expect(span.events.map((e) => e.name)).toEqual(['tessera.retrieval']);
  });

  test('a tool that catches the denial and returns its data anyway is still denied', async () => {
    t = await createTestAuthority();
    const { search } = crm(t.guard);
    const token = await t.grant({ tools: { 'crm.search': { retrieval: { maxRecords: 10 } } } });
    const r = await outcomeOf(t.guard.withCapability(token, () => search({ records: 11, swallow: true })));
    expect(codeOf(r)).toBe('retrieval_limit_exceeded');
  });

  test('a report without labels passes a labels bound', async () => {
    t = await createTestAuthority();
    const { search } = crm(t.guard);
    const token = await t.grant({ tools: { 'crm.search': { retrieval: { labels: ['public'] } } } });
    await expect(t.guard.withCapability(token, () => search({ records: 3 }))).resolves.toHaveLength(3);
  });

  test('within every bound the result is returned', async () => {
    t = await createTestAuthority();
    const { search } = crm(t.guard);
    const token = await t.grant({ tools: { 'crm.search': { retrieval: { maxRecords: 100, maxBytes: 4096, labels: ['public'], perIntent: { maxRecords: 500 } } } } });
    const r = await t.guard.withCapability(token, () => search({ records: 100, bytes: 4096, labels: ['public'] }));
    expect(r).toHaveLength(100);
  });

  test('a malformed report throws a TypeError in the tool; under a bound the result is withheld', async () => {
    t = await createTestAuthority();
    const seen: unknown[] = [];
    const tool = guardTool(t.guard, { name: 'crm.search', description: 'd', input: z.object({}), risk: 'read' }, (_a, ctx) => {
      try {
        ctx.retrieved({ source: 'crm', records: Number.NaN } as RetrievalReport);
      } catch (err) {
        seen.push(err);
      }
      try {
        ctx.retrieved({ source: '' });
      } catch (err) {
        seen.push(err);
      }
      return 'data';
    });
    const bounded = await t.grant({ tools: { 'crm.search': { retrieval: { maxRecords: 10 } } } });
    const unbounded = await t.grant({ tools: { 'crm.search': {} } });
    expect(codeOf(await outcomeOf(t.guard.withCapability(bounded, () => tool({}))))).toBe('retrieval_limit_exceeded');
    await expect(t.guard.withCapability(unbounded, () => tool({}))).resolves.toBe('data');
    expect(seen).toHaveLength(4);
    expect(seen.every((e) => e instanceof TypeError)).toBe(true);
    expect((seen[0] as Error).message).toBe('ctx.retrieved: records must be a non-negative integer');
    expect((seen[1] as Error).message).toBe('ctx.retrieved: source must be a string of 1 to 256 characters');
  });
});

describe('per-intent bounds (memory store)', () => {
  test('cumulative across calls and capabilities of the intent; a refused call adds nothing', async () => {
    t = await createTestAuthority();
    const { search } = crm(t.guard);
    const tools = { 'crm.search': { retrieval: { perIntent: { maxRecords: 100, maxBytes: 10_000 } } } };
    const first = await t.grant({ tools });
    const second = await t.grant({ tools }); // another capability for the same intent
    await expect(t.guard.withCapability(first, () => search({ records: 60 }))).resolves.toHaveLength(60);
    const r = await outcomeOf(t.guard.withCapability(second, () => search({ records: 60 })));
    expect(codeOf(r)).toBe('retrieval_limit_exceeded');
    expect(String((r as Error).message)).toMatch(/may read at most 100 records under intent "[^"]+" and 60 were already read/);
    await expect(t.guard.withCapability(second, () => search({ records: 40 }))).resolves.toHaveLength(40);
    expect(codeOf(await outcomeOf(t.guard.withCapability(first, () => search({ records: 1 }))))).toBe('retrieval_limit_exceeded');
    // Another intent has its own sums.
    const other = await t.grant({ tools, intent: { id: 'other-intent', purpose: 'p' } });
    await expect(t.guard.withCapability(other, () => search({ records: 100 }))).resolves.toHaveLength(100);
  });

  test.each([
    ['has no addWithin', (): TesseraStore => {
      const { addWithin: _omit, ...rest } = createMemoryStore();
      return rest;
    }],
    ['throws', (): TesseraStore => ({ ...createMemoryStore(), addWithin: () => { throw new Error('redis://:hunter2@db down'); } })],
    ['never answers', (): TesseraStore => ({ ...createMemoryStore(), addWithin: () => new Promise(() => {}) })],
  ])('a store that %s denies store_unavailable and withholds the result', async (_name, makeStore) => {
    t = await createTestAuthority({ guard: { store: makeStore(), timeouts: { storeMs: 50 } } });
    const { search } = crm(t.guard);
    const token = await t.grant({ tools: { 'crm.search': { retrieval: { perIntent: { maxRecords: 100 } } } } });
    const r = await outcomeOf(t.guard.withCapability(token, () => search({ records: 1 })));
    expect(codeOf(r)).toBe('store_unavailable');
    expect(JSON.stringify(r)).not.toContain(ROW);
    expect(String((r as Error).message)).not.toContain('hunter2');
  });
});

describe('shadow mode', () => {
  test('a retrieval over its bound is recorded as a would-be denial and the result returned', async () => {
    t = await createTestAuthority({ guard: { mode: 'shadow' } });
    const { search } = crm(t.guard);
    const token = await t.grant({ tools: { 'crm.search': { retrieval: { maxRecords: 5, perIntent: { maxRecords: 8 } } } } });
    await expect(t.guard.withCapability(token, () => search({ records: 6 }))).resolves.toHaveLength(6);
    const span = t.expectSpan({ tool: 'crm.search', decision: 'deny', code: 'retrieval_limit_exceeded', times: 1 });
    expect(span.attributes['tessera.enforced']).toBe(false);
  });
});

describe('delegation narrows retrieval', () => {
  test('a child may keep or lower each limit and keep a subset of labels, never widen', () => {
    const parent = { retrieval: { maxRecords: 100, labels: ['public', 'internal'], perIntent: { maxBytes: 1000 } } };
    expect(toolGrantWithin({ retrieval: { maxRecords: 10, labels: ['public'], perIntent: { maxBytes: 1000 } } }, parent, 'crm.search')).toBeUndefined();
    expect(toolGrantWithin({ retrieval: { maxRecords: 101, labels: ['public'], perIntent: { maxBytes: 1 } } }, parent, 'crm.search')).toBe(
      'raises crm.search retrieval.maxRecords from 100 to 101',
    );
    expect(toolGrantWithin({}, parent, 'crm.search')).toBe('drops crm.search retrieval.maxRecords (the parent allows 100; set it to at most that)');
    expect(toolGrantWithin({ retrieval: { maxRecords: 1, perIntent: { maxBytes: 1 } } }, parent, 'crm.search')).toBe(
      "drops crm.search retrieval.labels (the parent allows only ['public', 'internal'])",
    );
    expect(toolGrantWithin({ retrieval: { maxRecords: 1, labels: ['secret'], perIntent: { maxBytes: 1 } } }, parent, 'crm.search')).toBe(
      "widens crm.search retrieval.labels with 'secret', which its parent does not allow",
    );
    expect(toolGrantWithin({ retrieval: { maxRecords: 1, labels: [] } }, parent, 'crm.search')).toBe(
      'drops crm.search retrieval.perIntent.maxBytes (the parent allows 1000; set it to at most that)',
    );
  });

  test('delegate() refuses a widening child and the guard enforces a narrowed one', async () => {
    const { guard, keys, root, child } = await setupChain();
    const { search } = crm(guard);
    const parent = await root({ 'crm.search': { retrieval: { maxRecords: 50 } } });
    const request = (maxRecords: number) => ({ to: RESEARCHER, tools: { 'crm.search': { retrieval: { maxRecords } } }, confirmation: { jkt: keys.researcher.jkt } });
    await expect(child(parent, keys.planner, request(60))).rejects.toThrow(/raises crm\.search retrieval\.maxRecords from 50 to 60/);
    const narrowed = { capability: await child(parent, keys.planner, request(20)), prover: keys.researcher };
    expect(codeOf(await outcomeOf(guard.withCapability(narrowed, () => search({ records: 21 }))))).toBe('retrieval_limit_exceeded');
    await expect(guard.withCapability(narrowed, () => search({ records: 20 }))).resolves.toHaveLength(20);
  });
});

describe('through a framework adapter', () => {
  const usage = {
    inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 5, text: 5, reasoning: undefined },
  };
  const callTool = (toolCallId: string, input: unknown): LanguageModelV3GenerateResult => ({
    content: [{ type: 'tool-call', toolCallId, toolName: 'crm.search', input: JSON.stringify(input) }],
    finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
    usage,
    warnings: [],
  });
  const say = (text: string): LanguageModelV3GenerateResult => ({ content: [{ type: 'text', text }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] });

  test('the Vercel AI SDK model sees the denial, never the rows', async () => {
    t = await createTestAuthority();
    const { search, ran } = crm(t.guard);
    const token = await t.grant({ tools: { 'crm.search': { retrieval: { maxRecords: 10 } } } });
    const model = new MockLanguageModelV3({ doGenerate: [callTool('call-1', { records: 500 }), say('I could not read that much.')] });
    const result = await t.guard.withCapability(token, () =>
      generateText({ model, tools: toAISDKTools([search]), prompt: 'Export every customer', stopWhen: stepCountIs(3) }),
    );
    expect(ran).toEqual(['read 500']);
    const prompt = JSON.stringify(model.doGenerateCalls.at(-1)!.prompt);
    expect(prompt).toContain('retrieval_limit_exceeded');
    expect(prompt).not.toContain(ROW);
    expect(result.text).toBe('I could not read that much.');
  });
});
