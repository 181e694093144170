import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createGuard } from '../../src/index.js';
import { cliHarness, type CliHarness } from './support.js';

const ISSUER = 'https://authz.example.com';
let h: CliHarness;
let jwks: string;
let privateD: string;

const spec = {
  issuer: ISSUER,
  agent: 'spiffe://example.org/agents/support',
  audience: 'support-app',
  intent: { id: 'ticket-4711', purpose: 'Answer ticket 4711' },
  ttl: '5m',
  tools: {
    'tickets.read': { args: { ticketId: { eq: '4711' } } },
    'email.send': { args: { to: { endsWith: '@example.com' }, cc: { in: ['a@example.com', 'b@example.com'], optional: true } }, maxCalls: 1 },
    'fs.read': { args: { path: { pathWithin: '/srv/data' }, limit: { min: 1, max: 100 } } },
  },
};

beforeAll(async () => {
  h = cliHarness();
  const r = await h.run(['keys', 'generate', '--out', 'authority.jwk']);
  expect(r.code).toBe(0);
  jwks = r.out;
  writeFileSync(join(h.dir, 'jwks.json'), jwks);
  privateD = (JSON.parse(readFileSync(join(h.dir, 'authority.jwk'), 'utf8')) as { d: string }).d;
  writeFileSync(join(h.dir, 'grant.json'), JSON.stringify(spec));
});
afterAll(() => h.cleanup());

const grantToken = async (file = 'grant.json'): Promise<string> => {
  const r = await h.run(['grant', '--key', 'authority.jwk', file]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return r.out.trim();
};

describe('tessera keys generate', () => {
  test('writes the private JWK with mode 0600 and prints only the public JWKS', () => {
    expect(statSync(join(h.dir, 'authority.jwk')).mode & 0o777).toBe(0o600);
    const printed = JSON.parse(jwks) as { keys: Record<string, unknown>[] };
    expect(printed.keys).toHaveLength(1);
    expect(printed.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(printed.keys[0]).not.toHaveProperty('d');
    expect(jwks).not.toContain(privateD);
  });

  test('refuses to overwrite a key file without --force, and replaces it with --force', async () => {
    const again = await h.run(['keys', 'generate', '--out', 'authority.jwk']);
    expect(again.code).toBe(1);
    expect(again.err).toBe('tessera keys: authority.jwk already exists; pass --force to replace it\n');
    const es = await h.run(['keys', 'generate', '--out', 'es.jwk', '--alg', 'ES256']);
    expect(es.code).toBe(0);
    expect((JSON.parse(es.out) as { keys: { crv: string }[] }).keys[0]!.crv).toBe('P-256');
    const forced = await h.run(['keys', 'generate', '--out', 'es.jwk', '--force']);
    expect(forced.code).toBe(0);
    expect(statSync(join(h.dir, 'es.jwk')).mode & 0o777).toBe(0o600);
  });

  test('usage errors exit 2', async () => {
    expect((await h.run(['keys', 'generate'])).code).toBe(2);
    expect((await h.run(['keys', 'generate', '--out', 'x.jwk', '--alg', 'HS256'])).code).toBe(2);
    const unknown = await h.run(['keys', 'rotate']);
    expect(unknown).toMatchObject({ code: 2, err: 'tessera keys: unknown command keys "rotate"\nRun "tessera keys --help".\n' });
  });
});

describe('tessera grant', () => {
  test('signs a capability a guard trusting the printed JWKS accepts', async () => {
    const token = await grantToken();
    const guard = createGuard({ audience: 'support-app', trust: { issuer: ISSUER, jwks: JSON.parse(jwks) }, clock: h.clock });
    const cap = await guard.inspect(token);
    expect(cap.subject).toBe(spec.agent);
    expect(cap.intent).toEqual(spec.intent);
    expect(cap.expiresAt - cap.issuedAt).toBe(300);
  });

  test('reads YAML specs', async () => {
    writeFileSync(
      join(h.dir, 'grant.yaml'),
      [
        `issuer: ${ISSUER}`,
        'agent: spiffe://example.org/agents/support',
        'audience: support-app',
        'intent: { id: ticket-9, purpose: Close ticket 9 }',
        'ttl: 2m',
        'tools:',
        '  tickets.close: { args: { ticketId: { eq: "9" } }, maxCalls: 1 }',
      ].join('\n'),
    );
    const token = await grantToken('grant.yaml');
    const r = await h.run(['inspect', '--jwks', 'jwks.json', '--json', token]);
    expect(JSON.parse(r.out)).toMatchObject({ intent: { id: 'ticket-9' }, tools: { 'tickets.close': { maxCalls: 1 } }, expiresInSec: 120 });
  });

  test('a spec the authority refuses exits 1 and says why', async () => {
    writeFileSync(join(h.dir, 'bad.json'), JSON.stringify({ ...spec, ttl: '3h' }));
    const r = await h.run(['grant', '--key', 'authority.jwk', 'bad.json']);
    expect(r.code).toBe(1);
    expect(r.err).toBe("tessera grant: grant spec bad.json: grant refused: ttl 10800s exceeds the authority's maxTtl of 3600s\n");
    writeFileSync(join(h.dir, 'broken.json'), '{"agent": ');
    expect(await h.run(['grant', '--key', 'authority.jwk', 'broken.json'])).toMatchObject({ code: 1, err: 'tessera grant: grant spec broken.json: not valid JSON\n' });
  });

  test('a public key is not a signing key; the message never quotes the file', async () => {
    const r = await h.run(['grant', '--key', 'jwks.json', 'grant.json']);
    expect(r).toMatchObject({ code: 1, err: 'tessera grant: key file jwks.json: not a private JWK (run "tessera keys generate")\n' });
  });

  test('--out writes the capability with mode 0600 and prints nothing on stdout', async () => {
    const r = await h.run(['grant', '--key', 'authority.jwk', '--out', 'cap.jwt', 'grant.json']);
    expect(r).toMatchObject({ code: 0, out: '' });
    expect(statSync(join(h.dir, 'cap.jwt')).mode & 0o777).toBe(0o600);
  });

  test('missing --key is a usage error', async () => {
    expect((await h.run(['grant', 'grant.json'])).code).toBe(2);
  });
});

describe('tessera inspect', () => {
  test('prints issuer, agent, intent, tools in plain words, a countdown and the delegation chain', async () => {
    const token = await grantToken();
    h.clock.advance('90s');
    const r = await h.run(['inspect', '--jwks', 'jwks.json', '--issuer', ISSUER, '--audience', 'support-app', token]);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines).toContain('issuer       https://authz.example.com');
    expect(lines).toContain('agent        spiffe://example.org/agents/support');
    expect(lines).toContain('intent       ticket-4711: Answer ticket 4711');
    expect(lines).toContain('expires      2026-11-28T12:05:00.000Z (in 3m 30s)');
    expect(lines).toContain('key binding  none: a bearer capability');
    expect(lines).toContain('delegation   none: granted by the authority');
    expect(r.out).toContain(
      [
        'tools',
        '  tickets.read',
        '    - ticketId must equal "4711"',
        '    - no call limit',
        '  email.send',
        '    - to must end with "@example.com"',
        '    - cc (if given) must be one of "a@example.com", "b@example.com"',
        '    - at most 1 call',
        '  fs.read',
        '    - path must be a path inside /srv/data',
        '    - limit must be between 1 and 100',
        '    - no call limit',
      ].join('\n'),
    );
    expect(r.out).not.toContain(token);
    h.clock.set(h.clock.start);
  });

  test('says when issuer and audience were taken from the token', async () => {
    const token = await grantToken();
    const r = await h.run(['inspect', '--jwks', 'jwks.json', token]);
    expect(r.out).toContain('(taken from the token; pass --issuer to require it)');
    expect(r.out).toContain('(taken from the token; pass --audience to require it)');
  });

  test('reads the token from stdin with -', async () => {
    const token = await grantToken();
    const r = await h.run(['inspect', '--jwks', 'jwks.json', '--json', '-'], `${token}\n`);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ valid: true, agent: spec.agent, delegation: { depth: 0 }, notChecked: ['issuer', 'audience'] });
  });

  test('an expired capability exits 3 with its code', async () => {
    const token = await grantToken();
    h.clock.advance('10m');
    const r = await h.run(['inspect', '--jwks', 'jwks.json', token]);
    h.clock.set(h.clock.start);
    expect(r).toMatchObject({ code: 3, out: '', err: 'tessera inspect: capability rejected (capability_expired): the capability has expired; ask the authority for a new grant\n' });
  });

  test('a capability from another key exits 3', async () => {
    const other = await h.run(['keys', 'generate', '--out', 'other.jwk']);
    writeFileSync(join(h.dir, 'other-jwks.json'), other.out);
    const token = await grantToken();
    const r = await h.run(['inspect', '--jwks', 'other-jwks.json', '--json', token]);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.out)).toEqual({ valid: false, code: 'capability_invalid', reason: "the capability's signing key (kid) is not trusted by this guard: it is not in the issuer's current key set (unknown, or withdrawn by the issuer)" });
  });

  test('the wrong required audience exits 3', async () => {
    const token = await grantToken();
    const r = await h.run(['inspect', '--jwks', 'jwks.json', '--audience', 'billing-app', token]);
    expect(r.code).toBe(3);
    expect(r.err).toContain('capability rejected (capability_invalid): the capability was granted for another audience ("support-app") than this guard\'s ("billing-app")');
  });

  test('not a token at all exits 3 without echoing it', async () => {
    writeFileSync(join(h.dir, 'junk.txt'), 'not-a-token SECRET-VALUE');
    const r = await h.run(['inspect', '--jwks', 'jwks.json', 'junk.txt']);
    expect(r).toMatchObject({ code: 3, err: 'tessera inspect: capability given: not a compact JWS\n' });
  });

  test('a JWKS holding a private key is refused', async () => {
    const token = await grantToken();
    writeFileSync(join(h.dir, 'leaky.json'), JSON.stringify({ keys: [JSON.parse(readFileSync(join(h.dir, 'authority.jwk'), 'utf8'))] }));
    const r = await h.run(['inspect', '--jwks', 'leaky.json', token]);
    expect(r).toMatchObject({ code: 1, err: 'tessera inspect: JWKS file leaky.json: holds a private key; give the guard the public JWKS only\n' });
  });
});

describe('secrets', () => {
  test('no output of any command above contained the private key', () => {
    expect(h.transcript.length).toBeGreaterThan(20);
    for (const t of h.transcript) expect(t).not.toContain(privateD);
  });
});
