/**
 * `tessera gateway --config gateway.yaml`: runs the MCP gateway as its own process. Over stdio
 * (the default) a desktop client launches it as its MCP server, and standard output carries only
 * MCP messages; every diagnostic goes to standard error. With `http` in the config it serves
 * Streamable HTTP as an OAuth protected resource instead.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { intentSchema, toolsSchema } from '../../capability/claims.js';
import type { TrustedIssuer } from '../../capability/verify.js';
import type { McpGatewayOptions } from '../../gateway/options.js';
import { gatewayTimeoutsSchema, restartSchema, upstreamsSchema } from '../../gateway/options.js';
import type { JWKS } from '../../jose/keys.js';
import type { Approver } from '../../policy/types.js';
import type { TesseraStore } from '../../store/types.js';
import { describeIssues } from '../../util/zod-issues.js';
import { parseCommand, renderHelp, requireStr, type CommandSpec } from '../args.js';
import { readStructured } from '../files.js';
import { CliError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { storeFromConfig } from '../redis-connection.js';

export const gatewaySpec: CommandSpec = {
  name: 'gateway',
  summary: 'put MCP servers behind the guard (stdio or Streamable HTTP)',
  usage: '--config <gateway.yaml>',
  options: {
    config: { type: 'string', short: 'c', value: '<file>', help: 'The gateway configuration, YAML or JSON (see docs/gateway.md)' },
  },
  notes:
    'Needs the "@modelcontextprotocol/sdk" package, and "@hono/node-server" to serve HTTP.\n' +
    'Over stdio, standard output carries MCP messages only; diagnostics go to standard error.\n' +
    'SIGINT or SIGTERM stops the gateway and its upstream servers.',
};

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);
/** A secret is named by where it is, never written in the config. */
const secretSource = z.union([z.strictObject({ env: envName }), z.strictObject({ file: z.string().min(1) })]);

export const gatewayConfigSchema = z.strictObject({
  audience: z.string().min(1),
  trust: z.strictObject({
    issuer: z.string().min(1),
    /** The authority's public keys: a JWKS file, a URL, or absent to discover them from the issuer. */
    jwks: z.union([z.strictObject({ file: z.string().min(1) }), z.strictObject({ url: z.url() })]).optional(),
  }),
  upstreams: upstreamsSchema,
  /** For stdio: where the capability comes from. */
  capability: z
    .union([
      secretSource,
      z.strictObject({
        request: z.strictObject({
          authority: z.url(),
          identityToken: secretSource,
          identityTokenType: z.enum(['jwt', 'access_token', 'id_token']).optional(),
          intent: intentSchema,
          tools: toolsSchema,
          ttl: z.union([z.number().int().positive(), z.string().regex(/^\d+(s|m|h|d)$/)]).optional(),
        }),
      }),
    ])
    .optional(),
  http: z
    .strictObject({
      host: z.string().min(1).optional(),
      port: z.number().int().min(0).max(65_535),
      /** The MCP endpoint's public URL. */
      resource: z.string().min(1),
      /** Default: the trusted issuer. */
      authorizationServers: z.array(z.string().min(1)).min(1).optional(),
    })
    .optional(),
  approvals: z.strictObject({ url: z.string().min(1), identityToken: secretSource }).optional(),
  store: z
    .union([
      z.strictObject({ redis: z.strictObject({ urlEnv: envName.optional(), prefix: z.string().optional(), client: z.enum(['redis', 'ioredis']).optional() }) }),
      z.strictObject({ memory: z.strictObject({}) }),
    ])
    .optional(),
  timeouts: gatewayTimeoutsSchema.optional(),
  restart: restartSchema.optional(),
});
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

/** Paths in the configuration are relative to the configuration file. */
function resolveFrom(io: CliIo, configPath: string, file: string): string {
  return resolve(io.cwd, isAbsolute(file) || configPath === '-' ? file : join(dirname(configPath), file));
}

/** Reads a secret when it is needed, so that a rotated file or variable is picked up. */
function secretReader(io: CliIo, configPath: string, source: z.infer<typeof secretSource>, what: string): () => Promise<string> {
  if ('env' in source) {
    return async () => {
      const value = io.env[source.env]?.trim();
      if (value === undefined || value === '') throw new CliError(`${what}: environment variable ${source.env} is not set`);
      return value;
    };
  }
  const path = resolveFrom(io, configPath, source.file);
  return async () => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      throw new CliError(`${what}: ${source.file} cannot be read`);
    }
    const value = text.trim();
    if (value === '') throw new CliError(`${what}: ${source.file} is empty`);
    return value;
  };
}

export interface GatewayFromConfig {
  readonly config: GatewayConfig;
  readonly options: McpGatewayOptions;
  close(): Promise<void>;
}

/** The gateway's options from a configuration file, with its store connected. */
export async function gatewayOptionsFromConfig(io: CliIo, configPath: string): Promise<GatewayFromConfig> {
  const raw = await readStructured(io, configPath, 'config');
  const parsed = gatewayConfigSchema.safeParse(raw);
  if (!parsed.success) throw new CliError(`config ${configPath}: ${describeIssues(parsed.error, 'config')}`);
  const config = parsed.data;

  let jwks: TrustedIssuer['jwks'];
  if (config.trust.jwks !== undefined) {
    jwks = 'url' in config.trust.jwks ? new URL(config.trust.jwks.url) : ((await readStructured(io, resolveFrom(io, configPath, config.trust.jwks.file), 'JWKS')) as JWKS);
  }

  const connected = await storeFromConfig(io, config.store);
  const store: TesseraStore = connected.store;
  let close = connected.close;

  let approver: Approver | undefined;
  if (config.approvals !== undefined) {
    const { createRemoteApprover } = await import('../../client/approvals.js');
    const token = secretReader(io, configPath, config.approvals.identityToken, 'approvals.identityToken');
    approver = createRemoteApprover({ url: config.approvals.url, identityToken: token });
  }

  let capability: McpGatewayOptions['capability'];
  const source = config.capability;
  if (source !== undefined && 'request' in source) {
    const r = source.request;
    const { requestCapability } = await import('../../client/authority-client.js').catch(() => {
      throw new CliError('capability.request needs the "oauth4webapi" package');
    });
    const identityToken = secretReader(io, configPath, r.identityToken, 'capability.request.identityToken');
    let handle: Awaited<ReturnType<typeof requestCapability>> | undefined;
    let pending: Promise<Awaited<ReturnType<typeof requestCapability>>> | undefined;
    capability = async () => {
      if (handle === undefined) {
        pending ??= requestCapability({
          authority: r.authority,
          identityToken,
          ...(r.identityTokenType === undefined ? {} : { identityTokenType: r.identityTokenType }),
          audience: config.audience,
          intent: r.intent,
          tools: r.tools,
          ...(r.ttl === undefined ? {} : { ttl: r.ttl as never }),
          refreshBeforeMs: 30_000,
          onRefreshError: () => io.stderr('tessera gateway: refreshing the capability failed; the current one is used until it expires\n'),
        }).finally(() => {
          pending = undefined;
        });
        handle = await pending;
      }
      return handle.capability;
    };
    const closeStore = close;
    close = async () => {
      handle?.close();
      await closeStore();
    };
  } else if (source !== undefined) {
    capability = secretReader(io, configPath, source, 'capability');
  }

  const options: McpGatewayOptions = {
    guard: {
      audience: config.audience,
      trust: { issuer: config.trust.issuer, ...(jwks === undefined ? {} : { jwks }) },
      store,
      clock: io.clock,
      ...(approver === undefined ? {} : { approver }),
    },
    // zod's output types mark absent keys as possibly undefined; a parsed config never holds one.
    upstreams: config.upstreams as McpGatewayOptions['upstreams'],
    ...(capability === undefined ? {} : { capability }),
    ...(config.timeouts === undefined ? {} : { timeouts: config.timeouts as NonNullable<McpGatewayOptions['timeouts']> }),
    ...(config.restart === undefined ? {} : { restart: config.restart as NonNullable<McpGatewayOptions['restart']> }),
    onEvent: (message) => io.stderr(`tessera gateway: ${message}\n`),
  };
  return { config, options, close };
}

export async function gateway(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(gatewaySpec, argv);
  if (p.help) {
    io.stdout(renderHelp(gatewaySpec));
    return EXIT.ok;
  }
  const configPath = requireStr(p, gatewaySpec, 'config');
  const built = await gatewayOptionsFromConfig(io, configPath);
  let mod: typeof import('../../gateway/index.js');
  try {
    mod = await import('../../gateway/index.js');
  } catch {
    await built.close();
    throw new CliError('tessera gateway needs the "@modelcontextprotocol/sdk" package: npm install @modelcontextprotocol/sdk');
  }
  let gw: ReturnType<typeof mod.createMcpGateway>;
  try {
    gw = mod.createMcpGateway(built.options);
    await gw.start();
  } catch (err) {
    await built.close();
    if (err instanceof TypeError || err instanceof RangeError) throw new CliError(`config ${configPath}: ${err.message}`);
    // The gateway's own start error names the upstream and nothing from it.
    throw new CliError(err instanceof Error && err.message.startsWith('upstream "') ? err.message : 'the gateway could not start');
  }

  let stopHttp: () => Promise<void> = async () => undefined;
  const http = built.config.http;
  if (http === undefined) {
    await gw.serveStdio();
    io.stderr(`tessera gateway: serving ${gw.tools().length} tools over stdio\n`);
  } else {
    let nodeServer: typeof import('@hono/node-server');
    try {
      nodeServer = await import('@hono/node-server');
    } catch {
      await gw.close();
      await built.close();
      throw new CliError('serving HTTP needs the "@hono/node-server" package: npm install @hono/node-server');
    }
    const handler = mod.createGatewayHttpHandler(gw, { resource: http.resource, authorizationServers: http.authorizationServers ?? [built.config.trust.issuer] });
    const server = await new Promise<ReturnType<typeof nodeServer.serve>>((resolve) => {
      const s = nodeServer.serve({ fetch: handler.fetch, port: http.port, hostname: http.host ?? '127.0.0.1' }, () => resolve(s));
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : http.port;
    io.stdout(`tessera gateway ${http.resource} listening on ${http.host ?? '127.0.0.1'}:${port} (${gw.tools().length} tools)\n`);
    stopHttp = async () => {
      await handler.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
  }

  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // A desktop client ends a stdio server by closing its input.
    if (http === undefined) process.stdin.once('end', stop);
  });
  await stopHttp();
  await gw.close();
  await built.close();
  return EXIT.ok;
}
