/**
 * `tessera-guard/spiffe`. SPIFFE IDs, parsed exactly as the SPIFFE-ID standard (section 2) says. A refusal names the
 * rule that failed, so an operator sees "trust_domain_port" rather than "invalid URI".
 */
import { SpiffeIdError, type SpiffeIdRule } from '../errors.js';

// The error class lives with every other error class; re-exported so that existing imports work.
export { SpiffeIdError };
export type { SpiffeIdRule };

export interface SpiffeId {
  /** e.g. `example.org` */
  readonly trustDomain: string;
  /** e.g. `/agents/support`; empty for the trust domain's own ID. */
  readonly path: string;
  /** The ID as a string, e.g. `spiffe://example.org/agents/support`. */
  readonly id: string;
}

const SCHEME = 'spiffe://';
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN_BYTES = 255;
const TRUST_DOMAIN_CHAR = /^[a-z0-9._-]$/;
const PATH_CHAR = /^[a-zA-Z0-9._-]$/;

/** The most specific rule a character outside the trust domain alphabet breaks. */
function trustDomainRule(c: string): SpiffeIdRule {
  if (c === '@') return 'userinfo';
  if (c === ':') return 'port';
  if (c === '?') return 'query';
  if (c === '#') return 'fragment';
  if (c === '%') return 'percent_encoding';
  return 'trust_domain_characters';
}

function pathRule(c: string): SpiffeIdRule {
  if (c === '?') return 'query';
  if (c === '#') return 'fragment';
  if (c === '%') return 'percent_encoding';
  return 'path_characters';
}

/** Validates a bare trust domain name (`example.org`). Throws `SpiffeIdError`. */
export function parseTrustDomain(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new SpiffeIdError('trust_domain_missing');
  if (Buffer.byteLength(name) > MAX_TRUST_DOMAIN_BYTES) throw new SpiffeIdError('trust_domain_too_long');
  for (const c of name) if (!TRUST_DOMAIN_CHAR.test(c)) throw new SpiffeIdError(trustDomainRule(c));
  return name;
}

/** Parses a SPIFFE ID. Throws `SpiffeIdError` naming the rule that failed. */
export function parseSpiffeId(value: string): SpiffeId {
  if (typeof value !== 'string' || value.length === 0) throw new SpiffeIdError('empty');
  if (Buffer.byteLength(value) > MAX_ID_BYTES) throw new SpiffeIdError('too_long');
  if (!value.startsWith(SCHEME)) throw new SpiffeIdError('scheme');
  const rest = value.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (trustDomain.length === 0) throw new SpiffeIdError('trust_domain_missing');
  parseTrustDomain(trustDomain);
  if (path.length > 0) {
    const segments = path.slice(1).split('/');
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i]!;
      if (s.length === 0) throw new SpiffeIdError(i === segments.length - 1 ? 'path_trailing_slash' : 'path_empty_segment');
      if (s === '.' || s === '..') throw new SpiffeIdError('path_dot_segment');
      for (const c of s) if (!PATH_CHAR.test(c)) throw new SpiffeIdError(pathRule(c));
    }
  }
  return Object.freeze({ trustDomain, path, id: value });
}

/** True when `value` is a valid SPIFFE ID. */
export function isSpiffeId(value: string): boolean {
  try {
    parseSpiffeId(value);
    return true;
  } catch {
    return false;
  }
}
