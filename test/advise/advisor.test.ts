import { describe, expect, test } from 'vitest';
import { createAdvisor, type AdviseOptions, type GrantSpec } from '../../src/advise/advisor.js';
import { argConstraintSchema, compileConstraint } from '../../src/capability/constraints.js';
import { toolsWithin } from '../../src/capability/subsumption.js';
import { AGENT, call, PURPOSE, type CallInput } from './support.js';

function advise(calls: CallInput[], options: AdviseOptions = {}) {
  const a = createAdvisor(options);
  for (const c of calls) a.add(call(c));
  return a.finish();
}
const only = (calls: CallInput[], options: AdviseOptions = {}) => {
  const advice = advise(calls, options);
  expect(advice.groups).toHaveLength(1);
  return advice.groups[0]!;
};
const argOf = (calls: CallInput[], tool: string, arg: string, options: AdviseOptions = {}) => only(calls, options).grant!.tools[tool]!.args?.[arg];

const grant = (tools: GrantSpec['tools'], extra: Partial<GrantSpec> = {}): GrantSpec => ({
  agent: AGENT,
  audience: 'support-app',
  intent: { id: 'ticket-1', purpose: PURPOSE },
  ttl: '1h',
  tools,
  ...extra,
});

describe('each constraint kind', () => {
  test('URLs: hostIn lists the hosts seen; https alone needs no schemes', () => {
    const c = argOf([{ tool: 'web.get', args: { url: 'https://b.example.com/x' } }, { tool: 'web.get', args: { url: 'https://a.example.com/y?q=1' } }], 'web.get', 'url');
    expect(c).toEqual({ hostIn: ['a.example.com', 'b.example.com'] });
  });

  test('URLs over http name their schemes', () => {
    const c = argOf([{ tool: 'web.get', args: { url: 'http://a.example.com/' } }, { tool: 'web.get', args: { url: 'https://a.example.com/' } }], 'web.get', 'url');
    expect(c).toEqual({ hostIn: ['a.example.com'], schemes: ['http', 'https'] });
  });

  test('paths: pathWithin the deepest directory holding every path', () => {
    const c = argOf(
      [{ tool: 'fs.read', args: { path: '/srv/data/reports/q1.csv' } }, { tool: 'fs.read', args: { path: '/srv/data/reports/2024/q2.csv' } }],
      'fs.read',
      'path',
    );
    expect(c).toEqual({ pathWithin: '/srv/data/reports' });
  });

  test('paths in unrelated trees: the common directory is /', () => {
    expect(argOf([{ tool: 'fs.read', args: { path: '/etc/a' } }, { tool: 'fs.read', args: { path: '/srv/b' } }], 'fs.read', 'path')).toEqual({ pathWithin: '/' });
  });

  test('a relative path: no pathWithin is derived', () => {
    expect(argOf([{ tool: 'fs.read', args: { path: './a' } }, { tool: 'fs.read', args: { path: '/srv/b' } }], 'fs.read', 'path')).toBeUndefined();
  });

  test('email addresses in one domain: endsWith "@domain"; in two: nothing from the evidence alone', () => {
    expect(argOf([{ tool: 'mail', args: { to: 'ann@example.com' } }, { tool: 'mail', args: { to: 'bob@example.com' } }], 'mail', 'to')).toEqual({ endsWith: '@example.com' });
    expect(argOf([{ tool: 'mail', args: { to: 'ann@example.com' } }, { tool: 'mail', args: { to: 'bob@example.org' } }], 'mail', 'to')).toBeUndefined();
  });

  test('numbers: min and max of the values seen; numberMargin widens by a fraction of the larger bound', () => {
    const calls = [{ tool: 'pay', args: { amount: 20 } }, { tool: 'pay', args: { amount: 120 } }, { tool: 'pay', args: { amount: 45.5 } }];
    expect(argOf(calls, 'pay', 'amount')).toEqual({ min: 20, max: 120 });
    expect(argOf(calls, 'pay', 'amount', { numberMargin: 0.1 })).toEqual({ min: 8, max: 132 });
  });

  test('booleans: eq when only one value was used', () => {
    expect(argOf([{ tool: 'deploy', args: { dryRun: true } }, { tool: 'deploy', args: { dryRun: true } }], 'deploy', 'dryRun')).toEqual({ eq: true });
    expect(argOf([{ tool: 'deploy', args: { dryRun: true } }, { tool: 'deploy', args: { dryRun: false } }], 'deploy', 'dryRun')).toBeUndefined();
  });

  test('arrays seen whole: items constrained like a single value', () => {
    const c = argOf([{ tool: 'fetch', args: { urls: ['https://a.example.com/1', 'https://b.example.com/2'] } }], 'fetch', 'urls');
    expect(c).toEqual({ items: { hostIn: ['a.example.com', 'b.example.com'] } });
  });

  test('an array longer than the evidence lists: no items constraint (its tail was not seen)', () => {
    const urls = Array.from({ length: 17 }, (_, i) => `https://a.example.com/${i}`);
    expect(argOf([{ tool: 'fetch', args: { urls } }], 'fetch', 'urls')).toBeUndefined();
  });

  test('plain strings with no granted set: nothing the evidence can name', () => {
    expect(argOf([{ tool: 'note', args: { text: 'hello' } }], 'note', 'text')).toBeUndefined();
  });

  test('a granted in-list is narrowed to the values used, recognised by their hash', () => {
    const g = grant({ 'tickets.read': { args: { id: { in: ['4711', '4712', '4713', '4714'] } } } });
    const calls = [
      { tool: 'tickets.read', args: { id: '4711' }, cap: 'cap-a' },
      { tool: 'tickets.read', args: { id: '4713' }, cap: 'cap-b' },
    ];
    expect(argOf(calls, 'tickets.read', 'id', { grants: [g] })).toEqual({ in: ['4711', '4713'] });
    expect(argOf(calls.slice(0, 1), 'tickets.read', 'id', { grants: [g] })).toEqual({ eq: '4711' });
  });

  test('a value the hash does not match (another grant, another salt) leaves the granted list as it is', () => {
    const g = grant({ 'tickets.read': { args: { id: { in: ['4711', '4712'] } } } });
    expect(argOf([{ tool: 'tickets.read', args: { id: '9999' } }], 'tickets.read', 'id', { grants: [g] })).toEqual({ in: ['4711', '4712'] });
  });

  test('a granted in-list of URLs keeps every value on a host that was used', () => {
    const g = grant({ get: { args: { url: { in: ['https://a.example.com/1', 'https://a.example.com/2', 'https://b.example.com/1'] } } } });
    expect(argOf([{ tool: 'get', args: { url: 'https://a.example.com/1' } }], 'get', 'url', { grants: [g] })).toEqual({
      in: ['https://a.example.com/1', 'https://a.example.com/2'],
      hostIn: ['a.example.com'],
    });
  });

  test('an argument some calls left out is optional', () => {
    expect(argOf([{ tool: 'pay', args: { amount: 5 } }, { tool: 'pay', args: {} }], 'pay', 'amount')).toEqual({ min: 5, max: 5, optional: true });
  });
});

describe('intersection with the grant the calls were made under', () => {
  test('a derived rule replaces the granted one only when provably narrower', () => {
    const g = grant({
      'fs.read': { args: { path: { pathWithin: '/srv' } } },
      'web.get': { args: { url: { hostIn: ['*.example.com'] } } },
      pay: { args: { amount: { min: 0, max: 100 } } },
      mail: { args: { to: { endsWith: 'example.com' } } },
    });
    const group = only(
      [
        { tool: 'fs.read', args: { path: '/srv/data/a.csv' } },
        { tool: 'web.get', args: { url: 'https://api.example.com/x' } },
        { tool: 'pay', args: { amount: 30 } },
        { tool: 'pay', args: { amount: 60 } },
        { tool: 'mail', args: { to: 'ann@example.com' } },
      ],
      { grants: [g] },
    );
    const tools = group.grant!.tools;
    expect(tools['fs.read']!.args).toEqual({ path: { pathWithin: '/srv/data' } });
    expect(tools['web.get']!.args).toEqual({ url: { hostIn: ['api.example.com'] } });
    expect(tools.pay!.args).toEqual({ amount: { min: 30, max: 60 } });
    expect(tools.mail!.args).toEqual({ to: { endsWith: '@example.com' } });
    expect(toolsWithin(tools, g.tools)).toBeUndefined();
  });

  test('granted rules the evidence says nothing about are kept', () => {
    const g = grant({ note: { args: { text: { maxLength: 200, pattern: '[a-z ]+' } } } });
    expect(argOf([{ tool: 'note', args: { text: 'hello' } }], 'note', 'text', { grants: [g] })).toEqual({ maxLength: 200, pattern: '[a-z ]+' });
  });

  test('a tool called outside the grant is left out and reported; granted tools never called are reported', () => {
    const g = grant({ 'tickets.read': {}, 'tickets.delete': {} });
    const group = only([{ tool: 'tickets.read', args: {} }, { tool: 'search', args: {} }], { grants: [g] });
    expect(Object.keys(group.grant!.tools)).toEqual(['tickets.read']);
    expect(group.unusedTools).toEqual(['tickets.delete']);
    expect(group.outsideGrant).toEqual(['search']);
  });

  test('calls without evidence leave that tool\'s arguments as granted', () => {
    const g = grant({ 'fs.read': { args: { path: { pathWithin: '/srv' } } } });
    const group = only(
      [
        { tool: 'fs.read', args: { path: '/srv/a/b' } },
        { tool: 'fs.read', args: { path: '/srv/c/d' }, evidence: false },
      ],
      { grants: [g] },
    );
    expect(group.grant!.tools['fs.read']!.args).toEqual({ path: { pathWithin: '/srv' } });
    expect(group.tools[0]!.withoutEvidence).toBe(1);
  });

  test('a grant applies to its own agent and purpose only', () => {
    const g = grant({ 'fs.read': { args: { path: { pathWithin: '/srv' } } } }, { agent: 'spiffe://example.org/agents/other' });
    const group = only([{ tool: 'fs.read', args: { path: '/srv/a/b' } }], { grants: [g] });
    expect(group.granted).toBeUndefined();
  });
});

describe('budgets, task length and retrieval', () => {
  test('maxCalls: the highest count in one intent, with the margin, never above the grant', () => {
    const calls: CallInput[] = [
      ...Array.from({ length: 4 }, () => ({ tool: 'tickets.read', intent: 'i-1' })),
      ...Array.from({ length: 2 }, () => ({ tool: 'tickets.read', intent: 'i-2' })),
    ];
    const group = only(calls);
    expect(group.grant!.tools['tickets.read']!.maxCalls).toBe(6);
    expect(group.tools[0]!.maxCallsPerIntent).toBe(4);
    expect(only(calls, { margin: 0 }).grant!.tools['tickets.read']!.maxCalls).toBe(4);
    expect(only(calls, { grants: [grant({ 'tickets.read': { maxCalls: 5 } })] }).grant!.tools['tickets.read']!.maxCalls).toBe(5);
  });

  test('ttl: the longest task (first to last call of an intent) with the margin, at least a minute, never above the grant', () => {
    const calls: CallInput[] = [
      { tool: 't', intent: 'i-1', at: 0 },
      { tool: 't', intent: 'i-1', at: 200_000 },
      { tool: 't', intent: 'i-2', at: 1_000_000 },
      { tool: 't', intent: 'i-2', at: 1_010_000 },
    ];
    expect(only(calls).grant!.ttl).toBe(300);
    expect(only(calls.slice(2)).grant!.ttl).toBe(60);
    expect(only(calls, { grants: [grant({ t: {} }, { ttl: '2m' })] }).grant!.ttl).toBe(120);
  });

  test('retrieval: per call and per intent bounds from the volumes reported, labels seen', () => {
    const r = (records: number, bytes: number, labels: string[] = ['public']) => [{ records, bytes, labels }];
    const group = only([
      { tool: 'db.query', intent: 'i-1', retrievals: r(10, 1000) },
      { tool: 'db.query', intent: 'i-1', retrievals: r(30, 2000, ['internal']) },
      { tool: 'db.query', intent: 'i-2', retrievals: r(4, 100) },
    ]);
    expect(group.grant!.tools['db.query']!.retrieval).toEqual({
      maxRecords: 45,
      maxBytes: 3000,
      perIntent: { maxRecords: 60, maxBytes: 4500 },
      labels: ['internal', 'public'],
    });
    expect(group.tools[0]!.retrieval).toMatchObject({ calls: 3, records: 44, bytes: 3100, maxRecordsPerIntent: 40 });
  });

  test('shadow-mode calls the guard would have denied are counted, and never shape the grant', () => {
    const group = only([
      { tool: 'fs.read', args: { path: '/srv/a/x' } },
      { tool: 'fs.read', args: { path: '/etc/passwd' }, decision: 'deny', code: 'arguments_out_of_scope', enforced: false },
      { tool: 'fs.delete', args: { path: '/srv/a/x' }, decision: 'deny', code: 'tool_not_granted', enforced: false },
    ]);
    expect(group.wouldDeny).toEqual({ arguments_out_of_scope: 1, tool_not_granted: 1 });
    expect(group.grant!.tools).toEqual({ 'fs.read': { args: { path: { pathWithin: '/srv/a' } }, maxCalls: 2 } });
  });
});

test('every advised constraint is one the grammar accepts, and accepts every value seen', () => {
  const values: Record<string, unknown[]> = {
    url: ['https://a.example.com/x', 'http://b.example.com:8080/y'],
    path: ['/srv/a/b', '/srv/a/c/d'],
    to: ['x@example.com', 'y@example.com'],
    n: [-5, 10.5],
    b: [false, false],
    list: [['/data/x', '/data/y/z'], []],
  };
  const calls = [0, 1].map((i) => ({ tool: 'mixed', args: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v[i]])) }));
  const args = only(calls).grant!.tools.mixed!.args!;
  expect(Object.keys(args).sort()).toEqual(['b', 'list', 'n', 'path', 'to', 'url']);
  for (const [k, c] of Object.entries(args)) {
    expect(argConstraintSchema.safeParse(c).success).toBe(true);
    const check = compileConstraint(c);
    for (const v of values[k]!) expect(check(v, k)).toBeUndefined();
  }
});

describe('docs/advise.md: what shapes the advice', () => {
  test('a call allowed whose tool then threw (error) counts as allowed; an enforce-mode denial is counted and shapes nothing', () => {
    const group = only([
      { tool: 'pay', args: { amount: 5 }, decision: 'error' },
      { tool: 'pay', args: { amount: 500 }, decision: 'deny', code: 'arguments_out_of_scope' },
    ]);
    expect(group.allowed).toBe(1);
    expect(group.denied).toBe(1);
    expect(group.grant!.tools.pay!.args).toEqual({ amount: { min: 5, max: 5 } });
  });

  test('a granted in-list of numbers or paths is narrowed by value and by directory', () => {
    const g = grant({ t: { args: { n: { in: [1, 2, 3] }, p: { in: ['/srv/a/x', '/srv/a/y', '/srv/b/z'] } } } });
    expect(only([{ tool: 't', args: { n: 2, p: '/srv/a/x' } }], { grants: [g] }).grant!.tools.t!.args).toEqual({
      n: { eq: 2, min: 2, max: 2 },
      p: { in: ['/srv/a/x', '/srv/a/y'], pathWithin: '/srv/a' },
    });
  });

  test('optional stays only where the granted constraint was optional', () => {
    const g = grant({ t: { args: { a: { min: 0, optional: true } } } });
    expect(argOf([{ tool: 't', args: { a: 3 } }, { tool: 't', args: {} }], 't', 'a', { grants: [g] })).toEqual({ min: 3, max: 3, optional: true });
    expect(argOf([{ tool: 't', args: { a: 3 } }], 't', 'a', { grants: [g] })).toEqual({ min: 3, max: 3 });
  });

  test('retrieval labels: at most 256, else none are advised', () => {
    const labels = Array.from({ length: 257 }, (_, i) => `l${i}`);
    expect(only([{ tool: 'db', retrievals: [{ records: 1, bytes: 1, labels }] }]).grant!.tools.db!.retrieval!.labels).toBeUndefined();
    expect(only([{ tool: 'db', retrievals: [{ records: 1, bytes: 1, labels: labels.slice(0, 256) }] }]).grant!.tools.db!.retrieval!.labels).toHaveLength(256);
  });
});

describe('docs/advise.md: limits of the evidence', () => {
  const refuses = (c: Parameters<typeof compileConstraint>[0] | undefined, value: string) => compileConstraint(c!)(value, 'x');
  test('a path with a ".." segment is recorded normalised; the advised pathWithin refuses it as written', () => {
    const c = argOf([{ tool: 'fs', args: { p: '/srv/a/../b/x' } }], 'fs', 'p');
    expect(c).toEqual({ pathWithin: '/srv/b' });
    expect(refuses(c, '/srv/a/../b/x')).toBe("x must be an absolute path within /srv/b, but it contains a '..' segment");
  });

  test('a URL with capitals in its host: the advised hostIn refuses it as written', () => {
    const c = argOf([{ tool: 'web', args: { u: 'https://API.example.com/' } }], 'web', 'u');
    expect(c).toEqual({ hostIn: ['api.example.com'] });
    expect(refuses(c, 'https://API.example.com/')).toBe('x must write the host in lowercase');
  });

  test('an email domain with capitals does not end with the advised "@domain"', () => {
    const c = argOf([{ tool: 'mail', args: { to: 'ann@Example.COM' } }], 'mail', 'to');
    expect(c).toEqual({ endsWith: '@example.com' });
    expect(refuses(c, 'ann@Example.COM')).toBe('x must be a string ending with "@example.com" (got a string of 15 characters that does not)');
  });
});
