import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cliHarness, type CliHarness } from './support.js';

const ISSUER = 'https://authz.example.com';
let h: CliHarness;
let token: string;

beforeAll(async () => {
  h = cliHarness();
  const keys = await h.run(['keys', 'generate', '--out', 'authority.jwk']);
  writeFileSync(join(h.dir, 'jwks.json'), keys.out);
  writeFileSync(
    join(h.dir, 'grant.json'),
    JSON.stringify({
      issuer: ISSUER,
      agent: 'spiffe://example.org/agents/support',
      audience: 'support-app',
      intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
      tools: { 'tickets.read': { args: { ticketId: { eq: '4711' } } }, 'email.send': { args: { to: { endsWith: '@example.com' } }, maxCalls: 1 } },
    }),
  );
  token = (await h.run(['grant', '--key', 'authority.jwk', 'grant.json'])).out.trim();
  writeFileSync(join(h.dir, 'cap.jwt'), token);
  writeFileSync(
    join(h.dir, 'rules.yaml'),
    [
      'version: 1',
      'default: allow',
      'rules:',
      '  - id: no-mail-to-ceo',
      '    effect: forbid',
      '    tools: [email.send]',
      '    args: { to: { eq: ceo@example.com } }',
      '    reason: nobody emails the CEO from a ticket',
    ].join('\n'),
  );
  writeFileSync(join(h.dir, 'broken-rules.yaml'), ['version: 1', 'rules:', '  - id: r1', '    effect: maybe'].join('\n'));
});
afterAll(() => h.cleanup());

const check = (...extra: string[]) => h.run(['check', '--jwks', 'jwks.json', ...extra, 'cap.jwt']);

describe('tessera check', () => {
  test('allowed: exit 0 with the capability and intent', async () => {
    const r = await check('--tool', 'tickets.read', '--args', '{"ticketId":"4711"}', '--risk', 'read');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^allowed: "tickets.read" with these arguments is granted by capability \S+ \(intent ticket-4711\) and policy allows it\n$/);
  });

  test('a tool the capability does not grant: exit 3, tool_not_granted, with standards', async () => {
    const r = await check('--tool', 'tickets.delete', '--args', '{"ticketId":"4711"}');
    expect(r.code).toBe(3);
    expect(r.out).toBe(
      'denied (tool_not_granted): the capability for intent "ticket-4711" does not grant "tickets.delete"; it grants 2 tools, including tickets.read\nstandards: ASI02, T2, L3, GOVERN 1.4\n',
    );
  });

  test('arguments outside the grant: exit 3, arguments_out_of_scope, JSON', async () => {
    const r = await check('--tool', 'email.send', '--args', '{"to":"x@evil.test"}', '--json');
    expect(r.code).toBe(3);
    expect(JSON.parse(r.out)).toEqual({
      decision: 'deny',
      tool: 'email.send',
      code: 'arguments_out_of_scope',
      reason: 'to must be a string ending with "@example.com" (got a string of 11 characters that does not) (intent "ticket-4711")',
      standards: ['ASI02', 'T2', 'L3', 'GOVERN 1.4'],
      policyIds: [],
    });
  });

  test('a high-risk tier under the default policy needs approval: exit 4', async () => {
    const r = await check('--tool', 'email.send', '--args', '{"to":"a@example.com"}', '--risk', 'external', '--json');
    expect(r.code).toBe(4);
    expect(JSON.parse(r.out)).toEqual({
      decision: 'require_approval',
      tool: 'email.send',
      reason: `"email.send" is an external action and needs a human's approval`,
      policyIds: ['tessera.baseline.high-risk'],
    });
  });

  test('a rules file that forbids it: exit 3, policy_denied, naming the rule', async () => {
    const r = await check('--tool', 'email.send', '--args', '{"to":"ceo@example.com"}', '--policy', 'rules.yaml');
    expect(r.code).toBe(3);
    expect(r.out).toBe('denied (policy_denied): forbidden by rule "no-mail-to-ceo": nobody emails the CEO from a ticket\nstandards: ASI02, T2, T6, L6, GOVERN 1.4\npolicies: no-mail-to-ceo\n');
    const ok = await check('--tool', 'email.send', '--args', '{"to":"ann@example.com"}', '--policy', 'rules.yaml');
    expect(ok.code).toBe(0);
  });

  test('an invalid rules file stops the check: exit 1, nothing is allowed', async () => {
    const r = await check('--tool', 'email.send', '--args', '{"to":"a@example.com"}', '--policy', 'broken-rules.yaml');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('broken-rules.yaml:4');
  });

  test('an expired capability: exit 3, capability_expired', async () => {
    h.clock.advance('6m');
    const r = await check('--tool', 'tickets.read', '--args', '{"ticketId":"4711"}');
    h.clock.set(h.clock.start);
    expect(r.code).toBe(3);
    expect(r.out).toBe('denied (capability_expired): the capability has expired; ask the authority for a new grant\nstandards: ASI03, T3, T9, L4, MEASURE 2.7\n');
  });

  test('arguments from a file or stdin; bad JSON is a usage error that does not echo it', async () => {
    writeFileSync(join(h.dir, 'args.json'), '{"ticketId":"4711"}');
    expect((await check('--tool', 'tickets.read', '--args-file', 'args.json', '--risk', 'read')).code).toBe(0);
    const stdin = await h.run(['check', '--jwks', 'jwks.json', '--tool', 'tickets.read', '--risk', 'read', '--args-file', '-', 'cap.jwt'], '{"ticketId":"4712"}');
    expect(stdin.code).toBe(3);
    const bad = await check('--tool', 'tickets.read', '--args', '{secret-looking: 1');
    expect(bad).toMatchObject({ code: 2, err: 'tessera check: --args is not valid JSON\n' });
    expect((await check('--tool', 'tickets.read', '--risk', 'extreme')).code).toBe(2);
  });
});

describe('tessera policy validate', () => {
  test('valid files: exit 0 with rule counts', async () => {
    writeFileSync(join(h.dir, 'rules.json'), JSON.stringify({ version: 1, rules: [{ id: 'a', effect: 'permit', tools: ['tickets.*'] }] }));
    const r = await h.run(['policy', 'validate', 'rules.yaml', 'rules.json']);
    expect(r).toMatchObject({ code: 0, out: 'ok       rules.yaml (1 rule)\nok       rules.json (1 rule)\n' });
  });

  test('an invalid file: exit 1, each problem at its line', async () => {
    const r = await h.run(['policy', 'validate', 'rules.yaml', 'broken-rules.yaml']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('ok       rules.yaml (1 rule)\ninvalid  broken-rules.yaml\n');
    expect(r.err).toMatch(/^Invalid policy in broken-rules.yaml:\nbroken-rules.yaml:4:\d+: rules\[0\]\.effect: /);
  });

  test('missing and unknown files fail clearly', async () => {
    const r = await h.run(['policy', 'validate', 'nope.json', 'policy.txt']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('policy file nope.json: no such file\npolicy.txt: unknown policy format; use .json, .yaml or .yml (rules) or .cedar\n');
    expect((await h.run(['policy', 'validate'])).code).toBe(2);
  });
});

describe('--help everywhere', () => {
  test.each([
    ['keys', 'generate'],
    ['grant'],
    ['inspect'],
    ['check'],
    ['policy', 'validate'],
    ['revoke'],
    ['audit'],
    ['schema'],
    ['demo'],
  ])('tessera %s --help exits 0 with usage', async (...words) => {
    const r = await h.run([...words, '--help']);
    expect(r.code).toBe(0);
    expect(r.out.startsWith(`tessera ${words.join(' ')}: `)).toBe(true);
    expect(r.out).toContain(`Usage: tessera ${words.join(' ')}`);
  });

  test('no command prints the overview and exits 2; an unknown command exits 2', async () => {
    expect((await h.run([])).code).toBe(2);
    expect(await h.run(['frobnicate'])).toMatchObject({ code: 2, err: 'tessera: unknown command "frobnicate"\nRun "tessera --help".\n' });
    expect(await h.run(['eyJhbGciOiJFZERTQSJ9.e30.sig'])).toMatchObject({ code: 2, err: 'tessera: unknown command (not shown)\nRun "tessera --help".\n' });
  });
});

describe('Cedar policy files', () => {
  const examples = new URL('../../examples/policies/', import.meta.url).pathname;

  test('policy validate compiles the example Cedar policies against the tools they name', async () => {
    const r = await h.run([
      'policy',
      'validate',
      `${examples}no-external-email-outside-business-hours.cedar`,
      `${examples}production-writes-need-approval.cedar`,
      `${examples}subagents-read-only.cedar`,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').map((l) => l.replace(examples, ''))).toEqual([
      'ok       no-external-email-outside-business-hours.cedar (1 policy)',
      'ok       production-writes-need-approval.cedar (2 policies)',
      'ok       subagents-read-only.cedar (1 policy)',
      '',
    ]);
  });

  test('a Cedar syntax error is placed at its line and column', async () => {
    writeFileSync(join(h.dir, 'broken.cedar'), '// first line\npermit (principal, action resource);\n');
    const r = await h.run(['policy', 'validate', 'broken.cedar']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('invalid  broken.cedar\n');
    expect(r.err).toBe('Invalid policy in broken.cedar:\nbroken.cedar:2:27: unexpected token `resource`\n');
  });

  test('a policy that reads arguments the command line cannot type says how to validate it', async () => {
    writeFileSync(join(h.dir, 'args.cedar'), 'permit (principal, action == Action::"email.send", resource) when { context.args.to == "x" };\n');
    const r = await h.run(['policy', 'validate', 'args.cedar']);
    expect(r.code).toBe(1);
    expect(r.err).toContain("attribute `args.to` in context for Action::\"email.send\" not found");
    expect(r.err).toContain("the command line does not know your tools' argument schemas");
  });

  test('check with a Cedar forbid: external email on a Saturday is denied', async () => {
    // The test clock stands on Saturday 2026-11-28, 12:00 UTC.
    const r = await check('--tool', 'email.send', '--risk', 'external', '--args', '{"to":"a@example.com"}', '--policy', `${examples}no-external-email-outside-business-hours.cedar`);
    expect(r.code).toBe(3);
    expect(r.out.split('\n')[0]).toBe(
      'denied (policy_denied): forbidden by Cedar policy "no-external-email-outside-business-hours": external email goes out on weekdays 09:00-17:00 only',
    );
  });

  test('check with a Cedar @approval permit in production: needs approval', async () => {
    const r = await check(
      '--tool', 'tickets.read', '--risk', 'write', '--args', '{"ticketId":"4711"}',
      '--environment', '{"name":"production"}', '--policy', `${examples}production-writes-need-approval.cedar`, '--json',
    );
    expect(r.code).toBe(4);
    expect(JSON.parse(r.out)).toEqual({
      decision: 'require_approval',
      tool: 'tickets.read',
      reason: 'approval required by Cedar policy "production-writes-need-approval": writes in production need a human\'s approval',
      policyIds: ['production-writes-need-approval'],
    });
  });
});
