/**
 * The shape of a compact JWS: three canonical base64url segments. Every token kind is checked
 * against it before any parsing, so malformed input is refused cheaply and the same way everywhere.
 *
 * Canonical means one string per token: no padding `=`, no `+` or `/`, no segment whose length
 * leaves a lone character (length % 4 === 1), and a last character whose unused low bits are
 * zero. A decoder ignores those bits, so without this rule a signature segment could be altered
 * in its last character and still verify, giving one capability several token strings (and
 * several cache entries, replay markers and audit identities).
 */

// A final group of 2 characters carries 12 bits for 8 of data: its last character's low 4 bits
// are unused and must be zero (A, Q, g, w). A final group of 3 carries 18 bits for 16: its last
// character's low 2 bits must be zero.
const SEGMENT = '(?=[A-Za-z0-9_-])(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]|[A-Za-z0-9_-][AQgw])?';

/** A canonical compact JWS; the three capture groups are its header, payload and signature. */
export const COMPACT_JWS = new RegExp(`^(${SEGMENT})\\.(${SEGMENT})\\.(${SEGMENT})$`);

const CANONICAL_SEGMENT = new RegExp(`^${SEGMENT}$`);
const NAMES = ['header', 'payload', 'signature'] as const;

/** True when `token` is a canonical compact JWS. */
export function isCompactJws(token: unknown): token is string {
  return typeof token === 'string' && COMPACT_JWS.test(token);
}

/**
 * Why `token` is not a canonical compact JWS, in words a developer can act on; undefined when it
 * is one. Never quotes the token.
 */
export function compactJwsProblem(token: unknown): string | undefined {
  if (typeof token !== 'string') return 'it is not a string';
  if (COMPACT_JWS.test(token)) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return `it has ${parts.length} dot-separated segments, a compact JWS has 3`;
  for (let i = 0; i < 3; i++) {
    const s = parts[i]!;
    const name = NAMES[i]!;
    if (s.length === 0) return `its ${name} segment is empty`;
    if (/[=]/.test(s)) return `its ${name} segment carries base64 padding "="; base64url in a JWS has none`;
    if (/[^A-Za-z0-9_-]/.test(s)) return `its ${name} segment has characters outside base64url (A-Z a-z 0-9 - _)`;
    if (s.length % 4 === 1) return `its ${name} segment has a length no base64url encoding produces`;
    if (!CANONICAL_SEGMENT.test(s)) return `its ${name} segment is not canonical base64url (non-zero unused bits in its last character)`;
  }
  return 'it is not a canonical compact JWS';
}
