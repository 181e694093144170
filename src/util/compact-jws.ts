/**
 * The shape of a compact JWS: three base64url segments. Every token kind is checked against it
 * before any parsing, so malformed input is refused cheaply and the same way everywhere.
 */
export const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;
