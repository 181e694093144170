/**
 * `tessera keys generate`: a signing key for an authority. The private JWK goes to a file only
 * its owner can read; only the public JWKS is printed.
 */
import { createPublicKey } from 'node:crypto';
import type { JWK } from 'jose';
import { generateSigningKey, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../jose/keys.js';
import { flag, parseCommand, renderHelp, requireStr, safeWord, str, type CommandSpec } from '../args.js';
import { writeSecretFile } from '../files.js';
import { CliUsageError, EXIT, type CliIo, type ExitCode } from '../io.js';

export const keysGenerateSpec: CommandSpec = {
  name: 'keys generate',
  summary: 'create an authority signing key',
  usage: '--out <file> [--alg EdDSA|ES256] [--force]',
  options: {
    out: { type: 'string', short: 'o', value: '<file>', help: 'Where to write the private JWK (created with mode 0600)' },
    alg: { type: 'string', value: '<alg>', help: 'EdDSA (Ed25519, default) or ES256 (P-256)' },
    force: { type: 'boolean', help: 'Replace the file if it exists' },
  },
  notes: 'Prints the public JWKS on stdout; give it to every guard that trusts this authority.\nThe private key is never printed.',
};

export async function keysGenerate(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(keysGenerateSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(keysGenerateSpec));
    return EXIT.ok;
  }
  const out = requireStr(p, keysGenerateSpec, 'out');
  const alg = (str(p, 'alg') ?? 'EdDSA') as SigningAlgorithm;
  if (!SIGNING_ALGORITHMS.includes(alg)) throw new CliUsageError(`--alg must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  const key = await generateSigningKey(alg);
  const privateJwk = { ...(key.privateKey.export({ format: 'jwk' }) as JWK), kid: key.kid, alg: key.alg, use: 'sig' };
  await writeSecretFile(io, out, `${JSON.stringify(privateJwk, null, 2)}\n`, flag(p, 'force'));
  // Exported afresh from the private key so that the printed set can never carry a private part.
  const pub = { ...(createPublicKey(key.privateKey).export({ format: 'jwk' }) as JWK), kid: key.kid, alg: key.alg, use: 'sig' };
  io.stdout(`${JSON.stringify({ keys: [pub] }, null, 2)}\n`);
  io.stderr(`Wrote the private key (kid ${key.kid}) to ${out} with mode 0600.\n`);
  return EXIT.ok;
}

export const keysSpec: CommandSpec = {
  name: 'keys',
  summary: 'manage authority signing keys',
  usage: 'generate [options]',
  options: {},
  notes: 'Commands:\n  generate   create a signing key (private JWK to a file, public JWKS to stdout)',
};

export async function keys(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  if (sub === 'generate') return keysGenerate(rest, io);
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout(renderHelp(keysSpec));
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  throw new CliUsageError(`unknown command keys ${safeWord(sub)}\nRun "tessera keys --help".`);
}
