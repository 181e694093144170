/**
 * `tessera-guard/spiffe`. SPIFFE IDs, parsed exactly as the SPIFFE-ID standard (section 2) says. A refusal names the
 * rule that failed, so an operator sees "trust_domain_port" rather than "invalid URI".
 */
import { TesseraError } from '../errors.js';

export type SpiffeIdRule =
  | 'empty'
  | 'too_long'
  | 'scheme'
  | 'trust_domain_missing'
  | 'trust_domain_too_long'
  | 'trust_domain_characters'
  | 'userinfo'
  | 'port'
  | 'query'
  | 'fragment'
  | 'percent_encoding'
  | 'path_empty_segment'
  | 'path_dot_segment'
  | 'path_trailing_slash'
  | 'path_characters';

const RULE_TEXT: Record<SpiffeIdRule, string> = {
  empty: 'a SPIFFE ID cannot be empty',
  too_long: 'a SPIFFE ID is at most 2048 bytes',
  scheme: 'a SPIFFE ID starts with "spiffe://" (lower-case scheme)',
  trust_domain_missing: 'the trust domain is missing',
  trust_domain_too_long: 'a trust domain is at most 255 bytes',
  trust_domain_characters: 'trust domain characters are limited to lower-case letters, digits, ".", "-" and "_"',
  userinfo: 'a SPIFFE ID cannot carry userinfo ("user@")',
  port: 'a SPIFFE ID cannot carry a port',
  query: 'a SPIFFE ID cannot carry a query ("?")',
  fragment: 'a SPIFFE ID cannot carry a fragment ("#")',
  percent_encoding: 'a SPIFFE ID cannot be percent-encoded',
  path_empty_segment: 'path segments cannot be empty ("//")',
  path_dot_segment: 'path segments cannot be "." or ".."',
  path_trailing_slash: 'the path cannot end with "/"',
  path_characters: 'path segment characters are limited to letters, digits, ".", "-" and "_"',
};

/** A string is not a valid SPIFFE ID (or trust domain); `rule` names the rule it broke. */
export class SpiffeIdError extends TesseraError {
  static override code = 'spiffe_id_invalid';
  readonly rule: SpiffeIdRule;

  constructor(rule: SpiffeIdRule) {
    super(`invalid SPIFFE ID (${rule}): ${RULE_TEXT[rule]}`);
    this.rule = rule;
  }
}

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
