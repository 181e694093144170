/**
 * Grant patterns on the linear-time engine: the worst of several catastrophic-backtracking
 * patterns against 4096-character hostile values (target: under 1 ms each), and a guarded call
 * whose argument is checked by a pattern, allowed and denied, with the real OpenTelemetry SDK
 * recording every span. The Ed25519 floor and the calls are timed in the same rounds, in a fresh
 * random order each round, so load from other processes weighs on all of them alike.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { compilePattern, PATTERN_MAX_INPUT } from '../../src/capability/pattern.js';
import { createAuthority, createGuard, guardTool } from '../../src/index.js';
import { median, round, type Floor, type Harness } from '../harness.js';

/** Patterns that take a backtracking engine seconds or more on the values below. */
const ADVERSARIAL: readonly string[] = [
  '[a-z0-9-]+-[a-z0-9-]+-[a-z0-9-]+',
  'a*a*a*a*a*a*b',
  '(a|aa)+',
  '(x+x+)+y',
  '(\\w+\\s?)*',
  '(.*a){12}',
  '(?:[ab]*a[ab]{60}){2}',
  '(?:.*a.{40}b){2}.*',
  '[ab]*a[ab]{50}c*[ab]*b[ab]{50}',
];

/** Values of exactly the input bound that keep the automaton busy to the last character. */
function hostileValues(): string[] {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const random = (alphabet: string) => Array.from({ length: PATTERN_MAX_INPUT }, () => alphabet[(next() >> 8) % alphabet.length]!).join('');
  return [
    'a'.repeat(PATTERN_MAX_INPUT),
    `${'a-'.repeat(PATTERN_MAX_INPUT / 2 - 1)}a!`,
    `${'x'.repeat(PATTERN_MAX_INPUT - 1)}!`,
    `${'word '.repeat(PATTERN_MAX_INPUT / 5)}!`.slice(0, PATTERN_MAX_INPUT),
    random('ab'),
    random('abc'),
  ];
}

function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export default async function patternSuite(h: Harness, _floor: Floor): Promise<Record<string, number | string>> {
  // 1. The matcher alone: worst median over patterns x values.
  const values = hostileValues();
  let worstUs = 0;
  let worstName = '';
  for (const source of ADVERSARIAL) {
    const re = compilePattern(source);
    for (let v = 0; v < values.length; v++) {
      const value = values[v]!;
      for (let i = 0; i < 5; i++) re.test(value);
      const samples: number[] = [];
      for (let r = 0; r < 15; r++) {
        const t0 = performance.now();
        re.test(value);
        samples.push((performance.now() - t0) * 1000);
      }
      const us = median(samples);
      if (us > worstUs) {
        worstUs = us;
        worstName = `/${source}/ on value ${v}`;
      }
    }
  }
  h.note(`pattern: worst of ${ADVERSARIAL.length} adversarial patterns x ${values.length} values of ${PATTERN_MAX_INPUT} chars`, `${worstUs.toFixed(1)} µs (${worstName}; target < 1000)`);

  // 2. Guarded calls with a pattern constraint, spans recorded by the real SDK.
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  const authority = await createAuthority({ issuer: 'https://authz.example.com' });
  const guard = createGuard({ audience: 'bench', trust: { issuer: 'https://authz.example.com', jwks: authority.jwks() }, telemetry: { tracer: provider.getTracer('bench') } });
  const impl = async (args: { id: string }) => args.id;
  const call = guardTool(guard, { name: 'records.read', description: 'Read a record', input: z.object({ id: z.string() }), risk: 'read' }, impl);
  const capability = await authority.grant({
    agent: 'spiffe://example.org/agents/bench',
    audience: 'bench',
    intent: { id: 'bench', purpose: 'Benchmark' },
    tools: { 'records.read': { args: { id: { pattern: '[a-z0-9-]+-[a-z0-9-]+-[a-z0-9-]+' } } } },
  });
  const options = { capability };
  const good = { id: 'rec-2026-4711' };
  const hostile = { id: values[1]! };
  const { privateKey } = generateKeyPairSync('ed25519');
  const data = Buffer.from('a'.repeat(300));

  const entries: Record<string, () => unknown> = {
    floor: () => sign(null, data, privateKey),
    bare: () => impl(good),
    allowed: () => call(good, options),
    denied: () => call(hostile, options).catch(() => undefined),
  };
  const iterations = 1000;
  for (const fn of Object.values(entries)) for (let i = 0; i < 300; i++) await fn();
  const perRound: Record<string, number[]> = Object.fromEntries(Object.keys(entries).map((k) => [k, []]));
  for (let r = 0; r < 9; r++) {
    for (const name of shuffled(Object.keys(entries))) {
      const fn = entries[name]!;
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) {
        const v = fn();
        if (v instanceof Promise) await v;
      }
      perRound[name]!.push(((performance.now() - t0) * 1000) / iterations);
    }
    exporter.reset();
  }
  await provider.shutdown();
  const ratio = (name: string) => median(perRound[name]!.map((us, r) => (us - perRound.bare![r]!) / perRound.floor![r]!));
  const allowedUs = median(perRound.allowed!);
  const deniedUs = median(perRound.denied!);
  h.note('pattern: Ed25519 sign (floor, same rounds)', `${median(perRound.floor!).toFixed(2)} µs/op`);
  h.note('pattern: guarded call, pattern allows (spans on)', `${allowedUs.toFixed(2)} µs/op, overhead ${ratio('allowed').toFixed(2)} x Ed25519 sign`);
  h.note(`pattern: guarded call, pattern denies ${PATTERN_MAX_INPUT}-char hostile value (spans on)`, `${deniedUs.toFixed(2)} µs/op, overhead ${ratio('denied').toFixed(2)} x Ed25519 sign`);
  return {
    pattern_worst_match_us: round(worstUs, 1),
    pattern_allowed_call_us: round(allowedUs),
    pattern_denied_hostile_call_us: round(deniedUs),
    pattern_allow_vs_ed25519_sign: round(ratio('allowed')),
    pattern_deny_vs_ed25519_sign: round(ratio('denied')),
  };
}
