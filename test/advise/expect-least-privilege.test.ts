import { describe, expect, test } from 'vitest';
import { checkLeastPrivilege, expectLeastPrivilege } from '../../src/testing/index.js';
import { AGENT, PURPOSE } from './support.js';
import { guardSpans } from './spans.js';

const intent = { id: 'ticket-1', purpose: PURPOSE };
const spans = guardSpans([
  { tool: 'fs.read', args: { path: '/srv/data/reports/q1.csv' } },
  { tool: 'fs.read', args: { path: '/srv/data/reports/q2.csv' } },
  { tool: 'web.get', args: { url: 'https://api.example.com/v1' } },
]);

describe('expectLeastPrivilege', () => {
  test('passes for a grant no wider than what the scenario used', () => {
    const tight = {
      agent: AGENT,
      intent,
      tools: {
        'fs.read': { args: { path: { pathWithin: '/srv/data/reports' } }, maxCalls: 2 },
        'web.get': { args: { url: { hostIn: ['api.example.com'] } }, maxCalls: 1 },
      },
    };
    expect(() => expectLeastPrivilege(tight, spans)).not.toThrow();
    expect(tight).toBeLeastPrivilege(spans);
  });

  test('fails on a tool never called, a wider directory, a wider host list and a budget above use, with the diff', () => {
    const wide = {
      agent: AGENT,
      intent,
      tools: {
        'fs.read': { args: { path: { pathWithin: '/srv' } }, maxCalls: 10 },
        'web.get': { args: { url: { hostIn: ['api.example.com', 'evil.example.com'] } }, maxCalls: 1 },
        'fs.delete': {},
      },
    };
    const r = checkLeastPrivilege(wide, spans);
    expect(r.pass).toBe(false);
    expect(r.findings).toEqual([
      'tool fs.delete: granted, never called',
      'tool fs.read: maxCalls 10 granted, at most 2 used in one intent (advised 2)',
      "tool fs.read, argument path: granted pathWithin '/srv'; used 2 call(s): paths under /srv/data/reports; advised pathWithin '/srv/data/reports'",
      "tool web.get, argument url: granted hostIn ['api.example.com', 'evil.example.com'] over https; used 1 call(s): URLs on 1 host(s): api.example.com; advised hostIn ['api.example.com'] over https",
    ]);
    expect(r.tighter).toEqual({
      'fs.read': { args: { path: { pathWithin: '/srv/data/reports' } }, maxCalls: 2 },
      'web.get': { args: { url: { hostIn: ['api.example.com'] } }, maxCalls: 1 },
    });
    expect(() => expectLeastPrivilege(wide, spans)).toThrow('-   },\n-   "fs.delete": {}\n+   }\n  }');
    expect(() => expectLeastPrivilege(wide, spans)).toThrow('-         "pathWithin": "/srv"\n+         "pathWithin": "/srv/data/reports"\n');
    expect(() => expectLeastPrivilege(wide, spans)).toThrow('-           "api.example.com",\n-           "evil.example.com"\n+           "api.example.com"\n');
    expect(wide).not.toBeLeastPrivilege(spans);
  });

  test('slack lets budgets and number ranges run above use by that fraction, and no further', () => {
    const pay = guardSpans([
      { tool: 'pay', args: { amount: 40 } },
      { tool: 'pay', args: { amount: 100 } },
    ]);
    const grant = (max: number, maxCalls: number) => ({ agent: AGENT, intent, tools: { pay: { args: { amount: { min: 40, max } }, maxCalls } } });
    expect(checkLeastPrivilege(grant(150, 3), pay, { slack: 0.5 }).pass).toBe(true);
    expect(checkLeastPrivilege(grant(151, 3), pay, { slack: 0.5 }).findings).toEqual([
      'tool pay, argument amount: granted min 40, max 151; used 2 call(s): numbers from 40 to 100; advised min 40, max 150',
    ]);
    expect(checkLeastPrivilege(grant(150, 4), pay, { slack: 0.5 }).findings).toEqual(['tool pay: maxCalls 4 granted, at most 2 used in one intent (advised 3)']);
    expect(checkLeastPrivilege(grant(100, 2), pay).pass).toBe(true);
    expect(checkLeastPrivilege(grant(101, 2), pay).pass).toBe(false);
  });

  test('a grant without maxCalls allows more than any scenario used', () => {
    const r = checkLeastPrivilege({ agent: AGENT, intent, tools: { 'web.get': { args: { url: { hostIn: ['api.example.com'] } } } } }, guardSpans([{ tool: 'web.get', args: { url: 'https://api.example.com/' } }]));
    expect(r.findings).toEqual(['tool web.get: no maxCalls granted, at most 1 used in one intent (advised 1)']);
  });

  test('a scenario recorded without evidence cannot be judged: a TypeError says how to record it', () => {
    const bare = guardSpans([{ tool: 'web.get', args: { url: 'https://api.example.com/' }, evidence: false }]);
    expect(() => expectLeastPrivilege({ agent: AGENT, intent, tools: { 'web.get': { maxCalls: 1 } } }, bare)).toThrow(
      new TypeError('expectLeastPrivilege: 1 allowed call(s) carry no evidence, so their arguments cannot be judged; create the guard with telemetry: { evidence: true }'),
    );
  });

  test('no allowed call under the grant: every tool is unused', () => {
    const denied = guardSpans([{ tool: 'web.get', args: {}, decision: 'deny', code: 'tool_not_granted' }]);
    expect(checkLeastPrivilege({ agent: AGENT, intent, tools: { 'web.get': { maxCalls: 1 } } }, denied).findings).toEqual([
      'no allowed call used this grant: every tool is unused (web.get)',
    ]);
  });

  test('only the grant\'s own agent and purpose are judged', () => {
    const mixed = guardSpans([
      { tool: 'web.get', args: { url: 'https://api.example.com/' } },
      { tool: 'web.get', args: { url: 'https://other.example.com/' }, agent: 'spiffe://example.org/agents/other' },
      { tool: 'web.get', args: { url: 'https://third.example.com/' }, purpose: 'Something else' },
    ]);
    expect(checkLeastPrivilege({ agent: AGENT, intent, tools: { 'web.get': { args: { url: { hostIn: ['api.example.com'] } }, maxCalls: 1 } } }, mixed).pass).toBe(true);
  });
});

describe('expectLeastPrivilege: the grant as a capability token, and what is not judged', () => {
  test('a capability token is judged by its claims; its ttl is not judged', async () => {
    const { createAuthority } = await import('../../src/index.js');
    const authority = await createAuthority({ issuer: 'https://authz.example.com' });
    const token = await authority.grant({
      agent: AGENT,
      audience: 'support-app',
      intent,
      ttl: '1h',
      tools: { 'web.get': { args: { url: { hostIn: ['api.example.com'] } }, maxCalls: 1 } },
    });
    const used = guardSpans([{ tool: 'web.get', args: { url: 'https://api.example.com/' } }]);
    expect(checkLeastPrivilege(token, used).pass).toBe(true);
    const wide = await authority.grant({ agent: AGENT, audience: 'support-app', intent, tools: { 'web.get': { maxCalls: 1 } } });
    expect(checkLeastPrivilege(wide, used).findings).toEqual([
      "tool web.get, argument url: granted no constraint; used 1 call(s): URLs on 1 host(s): api.example.com; advised hostIn ['api.example.com'] over https",
    ]);
  });
});
