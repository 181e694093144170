/** Reading a capability from the command line and building a guard that verifies it. */
import { decodeJwt } from 'jose';
import { createGuard } from '../guard/create-guard.js';
import type { Guard, GuardOptions } from '../guard/types.js';
import { readInput } from './files.js';
import { CliError, EXIT, type CliIo } from './io.js';
import { loadJwks } from './keys-file.js';
import { COMPACT_JWS } from '../jose/compact-jws.js';


/** A token given inline, `-` for standard input, or a file holding it. */
export async function readCapability(io: CliIo, arg: string): Promise<string> {
  const text = COMPACT_JWS.test(arg) ? arg : (await readInput(io, arg, 'capability file')).trim();
  if (!COMPACT_JWS.test(text)) throw new CliError(`capability ${arg === '-' ? 'on stdin' : 'given'}: not a compact JWS`, EXIT.denied);
  return text;
}

export interface TrustFlags {
  readonly jwks: string;
  readonly issuer: string | undefined;
  readonly audience: string | undefined;
}

export interface CheckingGuard {
  readonly guard: Guard;
  /** Which of issuer and audience were taken from the token itself rather than given. */
  readonly assumed: readonly ('issuer' | 'audience')[];
}

/**
 * A guard trusting exactly the given JWKS. The issuer and audience default to the token's own
 * claims (reported as assumed): the signature check against the given keys is the trust anchor.
 */
export async function checkingGuard(io: CliIo, token: string, flags: TrustFlags, extra: Partial<GuardOptions> = {}): Promise<CheckingGuard> {
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(token);
  } catch {
    throw new CliError('the capability is not a well-formed JWT', EXIT.denied);
  }
  const assumed: ('issuer' | 'audience')[] = [];
  let issuer = flags.issuer;
  if (issuer === undefined) {
    if (typeof claims.iss !== 'string') throw new CliError('the capability names no issuer; pass --issuer', EXIT.denied);
    issuer = claims.iss;
    assumed.push('issuer');
  }
  let audience = flags.audience;
  if (audience === undefined) {
    const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
    if (typeof aud !== 'string') throw new CliError('the capability names no audience; pass --audience', EXIT.denied);
    audience = aud;
    assumed.push('audience');
  }
  const jwks = await loadJwks(io, flags.jwks);
  const guard = createGuard({ ...extra, audience, trust: { issuer, jwks }, clock: io.clock });
  return { guard, assumed };
}
