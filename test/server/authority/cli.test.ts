import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { authorityFromConfig } from '../../../src/cli/commands/authority.js';
import type { CliIo } from '../../../src/cli/io.js';
import { generateSigningKey } from '../../../src/jose/keys.js';
import { cliHarness, type CliHarness } from '../../cli/support.js';
import { createTestTrustDomain } from '../../identity/trust-domain.js';
import { redisTestsEnabled, startRedisServer } from '../../support/redis-server.js';
import { AUTHZ_AUDIENCE, GUARD_AUDIENCE, SUPPORT, TOKEN_EXCHANGE, JWT_TYPE } from './support.js';

let cli: CliHarness;
afterEach(() => cli?.cleanup());

async function privateJwkFile(path: string): Promise<string> {
  const key = await generateSigningKey('EdDSA');
  const jwk = { ...(key.privateKey.export({ format: 'jwk' }) as object), kid: key.kid, alg: key.alg, use: 'sig' };
  writeFileSync(path, JSON.stringify(jwk));
  return key.kid;
}

const CONFIG = (extra = '') => `issuer: http://127.0.0.1:8787
listen: { host: 127.0.0.1, port: 0 }
signingKey: { file: authority-key.json }
maxTtl: 1h
identity:
  audience: ${AUTHZ_AUDIENCE}
  jwtSvid:
    trustDomains:
      example.org: { file: bundle.json }
store: { memory: {} }
grantPolicy:
  roles:
    - name: support
      match: [{ spiffe: "spiffe://example.org/agents/*" }]
      ceiling: { tools: { tickets.read: { maxCalls: 5 } }, maxTtl: 10m }
${extra}`;

const io = (h: CliHarness, env: Record<string, string> = {}): CliIo => ({ stdout: () => undefined, stderr: () => undefined, readStdin: async () => '', cwd: h.dir, env, clock: Date.now });

describe('tessera authority serve', () => {
  test('runs the server from a YAML config: metadata, a grant, SIGHUP rotation, SIGTERM stop', async () => {
    cli = cliHarness();
    const td = await createTestTrustDomain('example.org', { clock: Date.now, audience: AUTHZ_AUDIENCE });
    writeFileSync(join(cli.dir, 'bundle.json'), JSON.stringify(td.bundle()));
    const firstKid = await privateJwkFile(join(cli.dir, 'authority-key.json'));
    writeFileSync(join(cli.dir, 'authority.yaml'), CONFIG());

    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'authority', 'serve', '--config', join(cli.dir, 'authority.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const waitFor = (re: RegExp) =>
      new Promise<RegExpMatchArray>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timeout waiting for ${re}: ${out}`)), 30_000);
        const check = () => {
          const m = re.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          }
        };
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          check();
        });
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const port = (await waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]!;
      const base = `http://127.0.0.1:${port}`;
      const meta = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as { issuer: string; token_endpoint: string };
      expect(meta).toMatchObject({ issuer: 'http://127.0.0.1:8787', token_endpoint: 'http://127.0.0.1:8787/token' });

      const res = await fetch(`${base}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: TOKEN_EXCHANGE,
          subject_token: await td.svid(SUPPORT),
          subject_token_type: JWT_TYPE,
          audience: GUARD_AUDIENCE,
          authorization_details: JSON.stringify([{ type: 'tessera_intent', id: 't-1', purpose: 'p' }, { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 2 }]),
        }),
      });
      expect(res.status).toBe(200);

      const secondKid = await privateJwkFile(join(cli.dir, 'authority-key.json'));
      child.kill('SIGHUP');
      await waitFor(/rotated to kid (\S+)/);
      const jwks = (await (await fetch(`${base}/jwks.json`)).json()) as { keys: { kid: string }[] };
      expect(jwks.keys.map((k) => k.kid)).toEqual([secondKid, firstKid]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 60_000);

  test('the signing key can come from an environment variable', async () => {
    cli = cliHarness();
    const td = await createTestTrustDomain('example.org', { clock: Date.now, audience: AUTHZ_AUDIENCE });
    writeFileSync(join(cli.dir, 'bundle.json'), JSON.stringify(td.bundle()));
    const kid = await privateJwkFile(join(cli.dir, 'k.json'));
    const { readFileSync } = await import('node:fs');
    writeFileSync(join(cli.dir, 'authority.yaml'), CONFIG().replace('signingKey: { file: authority-key.json }', 'signingKey: { env: AUTHORITY_KEY }'));
    const running = await authorityFromConfig(io(cli, { AUTHORITY_KEY: readFileSync(join(cli.dir, 'k.json'), 'utf8') }), 'authority.yaml');
    expect(running.authority.kid).toBe(kid);
    await running.close();
  });

  test.skipIf(!redisTestsEnabled())('with a Redis store (URL from the environment), a DPoP proof is single use across two authorities sharing it', async () => {
    cli = cliHarness();
    const redis = await startRedisServer();
    const td = await createTestTrustDomain('example.org', { clock: Date.now, audience: AUTHZ_AUDIENCE });
    writeFileSync(join(cli.dir, 'bundle.json'), JSON.stringify(td.bundle()));
    await privateJwkFile(join(cli.dir, 'authority-key.json'));
    writeFileSync(join(cli.dir, 'authority.yaml'), CONFIG().replace('store: { memory: {} }', 'store: { redis: { urlEnv: AUTHZ_REDIS } }'));
    const env = { AUTHZ_REDIS: redis.url };
    const a = await authorityFromConfig(io(cli, env), 'authority.yaml');
    const b = await authorityFromConfig(io(cli, env), 'authority.yaml');
    try {
      const { createAgentKey } = await import('../../../src/identity/agent-key.js');
      const { SignJWT } = await import('jose');
      const key = await createAgentKey();
      const proof = await new SignJWT({ htm: 'POST', htu: 'http://127.0.0.1:8787/token', iat: Math.floor(Date.now() / 1000), jti: 'proof-once-0001' })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk: key.publicJwk })
        .sign(key.signingKey.privateKey);
      const request = async () =>
        new Request('http://127.0.0.1:8787/token', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', DPoP: proof },
          body: new URLSearchParams({
            grant_type: TOKEN_EXCHANGE,
            subject_token: await td.svid(SUPPORT),
            subject_token_type: JWT_TYPE,
            audience: GUARD_AUDIENCE,
            authorization_details: JSON.stringify([{ type: 'tessera_intent', id: 't-1', purpose: 'p' }, { type: 'tessera_tool', tool: 'tickets.read', maxCalls: 2 }]),
          }),
        });
      expect((await a.server.fetch(await request())).status).toBe(200);
      const replay = await b.server.fetch(await request());
      expect({ status: replay.status, error: ((await replay.json()) as { error: string }).error }).toEqual({ status: 400, error: 'invalid_dpop_proof' });
    } finally {
      await a.close();
      await b.close();
      await redis.stop();
    }
  }, 60_000);

  test.each([
    ['an unknown option', CONFIG('unknownOption: 1'), 'config authority.yaml: config: Unrecognized key'],
    ['a role ceiling above the authority maxTtl', CONFIG().replace('maxTtl: 10m', 'maxTtl: 2h'), "exceeds the authority's maxTtl"],
    ['an issuer with a path', CONFIG().replace('issuer: http://127.0.0.1:8787', 'issuer: http://127.0.0.1:8787/authz'), 'no path'],
  ])('%s fails at start with a message naming it', async (_n, config, message) => {
    cli = cliHarness();
    await privateJwkFile(join(cli.dir, 'authority-key.json'));
    writeFileSync(join(cli.dir, 'bundle.json'), JSON.stringify({ keys: [] }));
    writeFileSync(join(cli.dir, 'authority.yaml'), config);
    const r = await cli.run(['authority', 'serve', '--config', 'authority.yaml']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(message);
  });

  test('a missing key env var fails at start without printing anything secret', async () => {
    cli = cliHarness();
    writeFileSync(join(cli.dir, 'authority.yaml'), CONFIG().replace('signingKey: { file: authority-key.json }', 'signingKey: { env: AUTHORITY_KEY }'));
    const r = await cli.run(['authority', 'serve', '--config', 'authority.yaml']);
    expect({ code: r.code, err: r.err }).toEqual({ code: 1, err: 'tessera authority: environment variable AUTHORITY_KEY is not set\n' });
  });
});
