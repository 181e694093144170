/**
 * `tessera authority serve --config authority.yaml`: runs the authority as its own process. The
 * signing key comes from a file or an environment variable and never reaches the agents; on
 * SIGHUP the key source is read again and, when it holds a new key, the authority rotates to it.
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { JWK } from 'jose';
import { z } from 'zod';
import { createAuthority, type Authority } from '../../capability/authority.js';
import { importSigningKey, type SigningKey } from '../../jose/keys.js';
import { createJwtSvidVerifier } from '../../identity/jwt-svid.js';
import { createOidcVerifier } from '../../identity/oidc.js';
import { createIdentityRouter } from '../../identity/router.js';
import type { IdentityVerifier } from '../../identity/types.js';
import type { TrustBundleSource } from '../../identity/trust-bundle.js';
import type { AuthorityServer } from '../../server/authority/server.js';
import type { GrantPolicy } from '../../server/authority/grant-policy.js';
import type { RateLimitOptions } from '../../server/authority/rate-limit.js';
import { describeIssues } from '../../util/zod-issues.js';
import { parseCommand, renderHelp, requireStr, safeWord, type CommandSpec } from '../args.js';
import { readStructured } from '../files.js';
import { CliError, CliUsageError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { storeFromConfig } from '../redis-connection.js';

export const authorityServeSpec: CommandSpec = {
  name: 'authority serve',
  summary: 'run the authority as a service (token exchange, JWKS, revocation, admin API)',
  usage: '--config <authority.yaml>',
  options: {
    config: { type: 'string', short: 'c', value: '<file>', help: 'The authority configuration, YAML or JSON (see docs/authority.md)' },
  },
  notes:
    'Needs the "hono" and "@hono/node-server" packages, and "redis" or "ioredis" for a Redis store.\n' +
    'SIGHUP reads the signing key again and rotates to it when it changed; SIGINT or SIGTERM stops the server.',
};

const duration = z.union([z.number().int().positive(), z.string().regex(/^\d+(s|m|h|d)$/)]);
const source = z.union([z.strictObject({ file: z.string().min(1) }), z.strictObject({ url: z.string().url() })]);

export const authorityConfigSchema = z.strictObject({
  issuer: z.string().min(1),
  listen: z.strictObject({ host: z.string().min(1).optional(), port: z.number().int().min(0).max(65_535) }),
  /** The private JWK from a file (`tessera keys generate`) or an environment variable holding it as JSON. */
  signingKey: z.union([z.strictObject({ file: z.string().min(1) }), z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) })]),
  maxTtl: duration.optional(),
  defaultTtl: duration.optional(),
  maxDelegationDepth: z.number().int().min(1).max(16).optional(),
  identity: z
    .strictObject({
      /** The audience identity tokens presented to this authority must carry. */
      audience: z.string().min(1),
      jwtSvid: z.strictObject({ trustDomains: z.record(z.string(), source) }).optional(),
      oidc: z.array(z.strictObject({ issuer: z.string().url(), identityClaim: z.string().optional(), typ: z.string().optional() })).max(20).optional(),
    })
    .refine((i) => i.jwtSvid !== undefined || (i.oidc?.length ?? 0) > 0, { message: 'configure jwtSvid or oidc' }),
  store: z.union([
    z.strictObject({ redis: z.strictObject({ urlEnv: z.string().optional(), prefix: z.string().optional(), client: z.enum(['redis', 'ioredis']).optional() }) }),
    z.strictObject({ memory: z.strictObject({}) }),
  ]),
  grantPolicy: z.unknown().optional(),
  grantPolicyFile: z.string().min(1).optional(),
  rateLimit: z.strictObject({ burst: z.number().optional(), perMinute: z.number().optional() }).optional(),
  maxBodyBytes: z.number().int().optional(),
  jwksMaxAgeSec: z.number().int().optional(),
});
export type AuthorityConfig = z.infer<typeof authorityConfigSchema>;

async function readKey(io: CliIo, config: AuthorityConfig['signingKey'], configPath: string): Promise<SigningKey> {
  let jwk: JWK;
  let where: string;
  if ('file' in config) {
    where = `key file ${config.file}`;
    jwk = (await readStructured(io, resolveFrom(configPath, config.file), 'key file')) as JWK;
  } else {
    where = `environment variable ${config.env}`;
    const text = io.env[config.env];
    if (text === undefined || text === '') throw new CliError(`${where} is not set`);
    try {
      jwk = JSON.parse(text) as JWK;
    } catch {
      throw new CliError(`${where}: not a JSON private JWK`);
    }
  }
  if (typeof jwk !== 'object' || jwk === null || typeof jwk.d !== 'string') throw new CliError(`${where}: not a private JWK (run "tessera keys generate")`);
  try {
    return await importSigningKey(jwk, typeof jwk.kid === 'string' ? { kid: jwk.kid } : {});
  } catch {
    // The import error may describe the key material.
    throw new CliError(`${where}: not an Ed25519 or P-256 private key`);
  }
}

/** Paths in the configuration are relative to the configuration file. */
function resolveFrom(configPath: string, file: string): string {
  return isAbsolute(file) || configPath === '-' ? file : join(dirname(configPath), file);
}

function identityFrom(config: AuthorityConfig['identity'], configPath: string, io: CliIo): IdentityVerifier {
  const jwtSvid =
    config.jwtSvid === undefined
      ? undefined
      : createJwtSvidVerifier({
          audience: config.audience,
          trustDomains: Object.fromEntries(
            Object.entries(config.jwtSvid.trustDomains).map(([td, s]): [string, TrustBundleSource] => [
              td,
              'file' in s ? { file: resolve(io.cwd, resolveFrom(configPath, s.file)) } : new URL(s.url),
            ]),
          ),
        });
  const oidc = Object.fromEntries(
    (config.oidc ?? []).map((o) => [
      o.issuer,
      createOidcVerifier({ issuer: o.issuer, audience: config.audience, ...(o.identityClaim ? { identityClaim: o.identityClaim } : {}), ...(o.typ ? { typ: o.typ } : {}) }),
    ]),
  );
  return createIdentityRouter({ ...(jwtSvid ? { jwtSvid } : {}), oidc });
}

export interface RunningAuthority {
  readonly config: AuthorityConfig;
  readonly authority: Authority;
  readonly server: AuthorityServer;
  /** Reads the key source again and rotates when it holds a different key. */
  reloadKey(): Promise<{ rotated: boolean; kid: string }>;
  close(): Promise<void>;
}

/** Builds the authority and its server from a configuration file, without listening. */
export async function authorityFromConfig(io: CliIo, configPath: string): Promise<RunningAuthority> {
  const raw = await readStructured(io, configPath, 'config');
  const parsed = authorityConfigSchema.safeParse(raw);
  if (!parsed.success) throw new CliError(`config ${configPath}: ${describeIssues(parsed.error, 'config')}`);
  const config = parsed.data;
  const policyRaw = config.grantPolicyFile !== undefined ? await readStructured(io, resolveFrom(configPath, config.grantPolicyFile), 'grant policy') : config.grantPolicy;
  if (policyRaw === undefined) throw new CliError(`config ${configPath}: give grantPolicy or grantPolicyFile`);

  const { store, close: closeStore } = await storeFromConfig(io, config.store);

  let key = await readKey(io, config.signingKey, configPath);
  let authority: Authority;
  let server: AuthorityServer;
  try {
    authority = await createAuthority({
      issuer: config.issuer,
      signingKey: key,
      store,
      clock: io.clock,
      ...(config.maxTtl === undefined ? {} : { maxTtl: config.maxTtl as never }),
      ...(config.defaultTtl === undefined ? {} : { defaultTtl: config.defaultTtl as never }),
      ...(config.maxDelegationDepth === undefined ? {} : { maxDelegationDepth: config.maxDelegationDepth }),
    });
    const { createAuthorityServer } = await import('../../server/authority/server.js').catch(() => {
      throw new CliError('tessera authority serve needs the "hono" package: npm install hono @hono/node-server');
    });
    server = createAuthorityServer({
      authority,
      identity: identityFrom(config.identity, configPath, io),
      grantPolicy: policyRaw as GrantPolicy,
      store,
      clock: io.clock,
      ...(config.rateLimit === undefined ? {} : { rateLimit: config.rateLimit as RateLimitOptions }),
      ...(config.maxBodyBytes === undefined ? {} : { maxBodyBytes: config.maxBodyBytes }),
      ...(config.jwksMaxAgeSec === undefined ? {} : { jwksMaxAgeSec: config.jwksMaxAgeSec }),
    });
  } catch (err) {
    await closeStore();
    if (err instanceof CliError) throw err;
    if (err instanceof TypeError || err instanceof RangeError) throw new CliError(`config ${configPath}: ${err.message}`);
    throw err;
  }
  return {
    config,
    authority,
    server,
    async reloadKey() {
      const next = await readKey(io, config.signingKey, configPath);
      if (next.kid === key.kid) return { rotated: false, kid: key.kid };
      await authority.rotate(next);
      key = next;
      return { rotated: true, kid: next.kid };
    },
    close: closeStore,
  };
}

export async function authorityServe(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(authorityServeSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(authorityServeSpec));
    return EXIT.ok;
  }
  const configPath = requireStr(p, authorityServeSpec, 'config');
  const running = await authorityFromConfig(io, configPath);
  const listen = running.config.listen;
  let nodeServer: typeof import('@hono/node-server');
  try {
    nodeServer = await import('@hono/node-server');
  } catch {
    await running.close();
    throw new CliError('tessera authority serve needs the "@hono/node-server" package: npm install @hono/node-server');
  }
  const http = await new Promise<ReturnType<typeof nodeServer.serve>>((resolve) => {
    const s = nodeServer.serve({ fetch: running.server.fetch, port: listen.port, hostname: listen.host ?? '127.0.0.1' }, () => resolve(s));
  });
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : listen.port;
  io.stdout(`tessera authority ${running.authority.issuer} listening on ${listen.host ?? '127.0.0.1'}:${port} (kid ${running.authority.kid})\n`);

  await new Promise<void>((resolve) => {
    const reload = () => {
      running.reloadKey().then(
        (r) => io.stdout(r.rotated ? `rotated to kid ${r.kid}\n` : `signing key unchanged (kid ${r.kid})\n`),
        (err: unknown) => io.stderr(`tessera authority: key reload failed: ${err instanceof CliError ? err.message : 'unexpected error'}\n`),
      );
    };
    const stop = () => {
      process.off('SIGHUP', reload);
      resolve();
    };
    process.on('SIGHUP', reload);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await running.close();
  return EXIT.ok;
}

export const authoritySpec: CommandSpec = {
  name: 'authority',
  summary: 'run the authority as a service',
  usage: 'serve --config <file>',
  options: {},
  notes: 'Commands:\n  serve   run the authority (see "tessera authority serve --help")',
};

export async function authorityCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  if (sub === 'serve') return authorityServe(rest, io);
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout(renderHelp(authoritySpec));
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  throw new CliUsageError(`unknown command authority ${safeWord(sub)}\nRun "tessera authority --help".`);
}
