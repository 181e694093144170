/**
 * `tessera grant`: signs a capability from a JSON or YAML spec with the authority's key file.
 */
import { createAuthority, type GrantRequest } from '../../capability/authority.js';
import { CapabilityError } from '../../errors.js';
import { flag, parseCommand, renderHelp, requireStr, str, type CommandSpec } from '../args.js';
import { readJsonObject, writeSecretFile } from '../files.js';
import { CliError, CliUsageError, EXIT, type CliIo, type ExitCode } from '../io.js';
import { loadPrivateKey } from '../keys-file.js';
import type { Duration } from '../../util/time.js';

export const grantSpec: CommandSpec = {
  name: 'grant',
  summary: 'sign a capability from a JSON or YAML spec',
  usage: '--key <file> [--issuer <url>] [--out <file>] <spec.json|spec.yaml>',
  positionals: { min: 1, max: 1 },
  options: {
    key: { type: 'string', short: 'k', value: '<file>', help: 'The authority\'s private JWK (from "tessera keys generate")' },
    issuer: { type: 'string', value: '<url>', help: 'The authority\'s issuer; overrides "issuer" in the spec' },
    'max-ttl': { type: 'string', value: '<duration>', help: 'Longest ttl this authority grants; default 1h' },
    out: { type: 'string', short: 'o', value: '<file>', help: 'Write the capability to a file (mode 0600) instead of stdout' },
    force: { type: 'boolean', help: 'With --out, replace an existing file' },
  },
  notes: `The spec holds the grant request:

  issuer: https://authz.example.com        # or --issuer
  agent: spiffe://example.org/agents/support
  audience: support-app
  intent: { id: ticket-4711, purpose: Answer ticket 4711 }
  ttl: 5m
  tools:
    tickets.read: { args: { ticketId: { eq: "4711" } } }
    email.send: { args: { to: { endsWith: "@example.com" } }, maxCalls: 1 }`,
};

export async function grant(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(grantSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(grantSpec));
    return EXIT.ok;
  }
  const keyPath = requireStr(p, grantSpec, 'key');
  const specPath = p.positionals[0]!;
  const spec = await readJsonObject(io, specPath, 'grant spec');
  const { issuer: specIssuer, ...request } = spec;
  const issuer = str(p, 'issuer') ?? (typeof specIssuer === 'string' ? specIssuer : undefined);
  if (issuer === undefined) throw new CliUsageError('name the issuer with --issuer or "issuer" in the spec');
  const signingKey = await loadPrivateKey(io, keyPath);
  let authority;
  try {
    authority = await createAuthority({ issuer, signingKey, clock: io.clock, maxTtl: (str(p, 'max-ttl') ?? '1h') as Duration });
  } catch (err) {
    throw new CliUsageError(err instanceof Error ? err.message : 'invalid authority options');
  }
  let token: string;
  try {
    token = await authority.grant(request as unknown as GrantRequest);
  } catch (err) {
    if (err instanceof CapabilityError || err instanceof RangeError) throw new CliError(`grant spec ${specPath}: ${err.message}`);
    throw err;
  }
  const out = str(p, 'out');
  if (out === undefined) {
    io.stdout(`${token}\n`);
  } else {
    await writeSecretFile(io, out, `${token}\n`, flag(p, 'force'));
    io.stderr(`Wrote the capability to ${out} with mode 0600.\n`);
  }
  return EXIT.ok;
}
