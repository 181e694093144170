/**
 * The shape of a compact JWS: three base64url segments. Every token kind is checked against it
 * before any parsing, so malformed input is refused cheaply and the same way everywhere.
 *
 * Each segment must be canonical base64url: a final character's unused low bits must be zero,
 * and a length of 1 mod 4 is impossible. Decoders ignore those bits, so without this a token
 * has several spellings with one signature, and anything keyed by the token text (caches,
 * deny-lists of leaked tokens) could be sidestepped by a respelling.
 */
const SEGMENT = '(?=[A-Za-z0-9_-])(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]|[A-Za-z0-9_-][AQgw])?';
export const COMPACT_JWS = new RegExp(`^(${SEGMENT})\\.(${SEGMENT})\\.(${SEGMENT})$`);
