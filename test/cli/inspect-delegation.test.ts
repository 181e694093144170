import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { delegate, generateSigningKey, type SigningKey } from '../../src/index.js';
import { cliHarness, type CliHarness } from './support.js';

const ISSUER = 'https://authz.example.com';
const LEAD = 'spiffe://example.org/agents/lead';
const HELPER = 'spiffe://example.org/agents/researcher';
let h: CliHarness;
let leadKey: SigningKey;
let parent: string;

beforeAll(async () => {
  h = cliHarness();
  writeFileSync(join(h.dir, 'jwks.json'), (await h.run(['keys', 'generate', '--out', 'authority.jwk'])).out);
  leadKey = await generateSigningKey();
  writeFileSync(
    join(h.dir, 'grant.json'),
    JSON.stringify({
      issuer: ISSUER,
      agent: LEAD,
      audience: 'research-app',
      intent: { id: 'report-7', purpose: 'Write report 7' },
      tools: { 'web.fetch': { args: { url: { hostIn: ['*.example.org'] } }, maxCalls: 10 }, 'docs.write': {} },
      confirmation: { jkt: leadKey.kid },
      ttl: '10m',
    }),
  );
  parent = (await h.run(['grant', '--key', 'authority.jwk', 'grant.json'])).out.trim();
});
afterAll(() => h.cleanup());

describe('tessera inspect on bound and delegated capabilities', () => {
  test('a key-bound capability names the key it must prove possession of', async () => {
    const r = await h.run(['inspect', '--jwks', 'jwks.json', '--json', parent]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ agent: LEAD, boundToKey: leadKey.kid, delegation: { depth: 0, agents: [LEAD] } });
  });

  test('a delegated capability shows the chain from the root grant', async () => {
    const child = await delegate(
      parent,
      { to: HELPER, tools: { 'web.fetch': { args: { url: { hostIn: ['docs.example.org'] } }, maxCalls: 3 } }, ttl: '5m', intent: { purpose: 'Find sources' } },
      { key: leadKey, clock: h.clock },
    );
    const r = await h.run(['inspect', '--jwks', 'jwks.json', '--issuer', ISSUER, '--audience', 'research-app', child]);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines).toContain(`agent        ${HELPER}`);
    expect(lines).toContain(`delegation   ${LEAD} -> ${HELPER} (depth 1)`);
    expect(lines).toContain('expires      2026-11-28T12:05:00.000Z (in 5m)');
    expect(r.out).toContain('  web.fetch\n    - url must be a https URL on docs.example.org\n    - at most 3 calls\n');
    expect(r.out).not.toContain('docs.write');
  });
});

describe('fail closed', () => {
  test('a JWKS URL that does not answer rejects the capability; nothing is allowed', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
      });
    });
    const url = `http://127.0.0.1:${port}/jwks.json`;
    const inspect = await h.run(['inspect', '--jwks', url, parent]);
    expect(inspect.code).toBe(3);
    expect(inspect.err).toBe(
      'tessera inspect: capability rejected (capability_invalid): the key source of issuer "https://authz.example.com" failed; its capabilities are refused until its keys can be fetched\n',
    );
    const check = await h.run(['check', '--jwks', url, '--tool', 'docs.write', parent]);
    expect(check.code).toBe(3);
    expect(check.out).toBe(
      'denied (capability_invalid): the key source of issuer "https://authz.example.com" failed; its capabilities are refused until its keys can be fetched\nstandards: ASI03, T3, T9, L4, MEASURE 2.7\n',
    );
  });

  test('a key-bound capability without a proof is denied by check (no agent key in a dry run)', async () => {
    const r = await h.run(['check', '--jwks', 'jwks.json', '--tool', 'docs.write', '--json', parent]);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.out)).toMatchObject({ decision: 'deny', code: 'proof_invalid' });
  });
});
