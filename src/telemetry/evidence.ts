/**
 * Evidence: what a least-privilege advisor needs from one call, and nothing it could leak. Each
 * top-level argument is reduced to the shape a grant constraint is written on: a URL to its
 * scheme and host, an email to its domain, a path to its directory, a number or boolean to its
 * value, any other string to its length. A raw string never appears: it could be a password, a
 * token or a customer's name. Strings also carry a short hash salted with the capability id, so
 * that values a grant's `in`/`eq` names can be matched and distinct values counted, while the
 * same value under another capability hashes differently (no dictionary across capabilities).
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';

export type EvidenceShape =
  | { readonly t: 'url'; readonly scheme: string; readonly host: string }
  | { readonly t: 'email'; readonly domain: string; readonly h: string }
  | { readonly t: 'path'; readonly dir: string }
  | { readonly t: 'string'; readonly len: number; readonly h: string }
  | { readonly t: 'number'; readonly v: number }
  | { readonly t: 'boolean'; readonly v: boolean }
  | { readonly t: 'null' }
  | { readonly t: 'array'; readonly len: number; readonly items: readonly EvidenceShape[] }
  | { readonly t: 'object'; readonly keys: number };

export interface Evidence {
  readonly v: 1;
  readonly purpose: string;
  readonly args: Readonly<Record<string, EvidenceShape>>;
}

/** Items of an array kept as shapes; the length counts them all. */
export const EVIDENCE_ARRAY_ITEMS = 16;
// Arrays nested deeper than this keep their length only: evidence stays small whatever the schema.
const MAX_DEPTH = 4;
const HASH_CHARS = 22;
const PATH_START = /^(?:\/|\.\/|\.\.\/|~\/)/;
// One "@" and a hostname after it; the local part is never kept.
const EMAIL = /^[^@\s]+@([A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*)$/;

/** The first 22 characters of base64url(SHA-256(capabilityId NUL argName NUL value)). */
export function evidenceHash(capabilityId: string, argName: string, value: string): string {
  return createHash('sha256').update(`${capabilityId}\u0000${argName}\u0000${value}`).digest('base64url').slice(0, HASH_CHARS);
}

function stringShape(capabilityId: string, argName: string, s: string): EvidenceShape {
  if (s.includes('://')) {
    let url: URL | undefined;
    try {
      url = new URL(s);
    } catch {
      url = undefined;
    }
    // Scheme and host only: user info, path, query and fragment may each hold a secret.
    if (url !== undefined) return { t: 'url', scheme: url.protocol.replace(/:$/, ''), host: url.hostname };
  }
  const email = EMAIL.exec(s);
  if (email !== null) return { t: 'email', domain: email[1]!.toLowerCase(), h: evidenceHash(capabilityId, argName, s) };
  if (PATH_START.test(s)) return { t: 'path', dir: posix.dirname(posix.normalize(s)) };
  return { t: 'string', len: s.length, h: evidenceHash(capabilityId, argName, s) };
}

function shapeOf(capabilityId: string, argName: string, value: unknown, depth: number): EvidenceShape {
  if (typeof value === 'string') return stringShape(capabilityId, argName, value);
  if (typeof value === 'number') return { t: 'number', v: value };
  if (typeof value === 'boolean') return { t: 'boolean', v: value };
  if (Array.isArray(value)) {
    const items: EvidenceShape[] = [];
    if (depth < MAX_DEPTH) {
      for (let i = 0; i < value.length && i < EVIDENCE_ARRAY_ITEMS; i++) items.push(shapeOf(capabilityId, argName, value[i], depth + 1));
    }
    return { t: 'array', len: value.length, items };
  }
  if (value !== null && typeof value === 'object') return { t: 'object', keys: Object.keys(value).length };
  return { t: 'null' };
}

/** The evidence of one call with parsed arguments `args` under capability `capabilityId`. */
export function callEvidence(capabilityId: string, purpose: string, args: Readonly<Record<string, unknown>>): Evidence {
  const shapes: Record<string, EvidenceShape> = Object.create(null) as Record<string, EvidenceShape>;
  for (const name of Object.keys(args)) shapes[name] = shapeOf(capabilityId, name, args[name], 0);
  return { v: 1, purpose, args: shapes };
}

/** The `tessera.evidence` attribute's value. */
export function evidenceAttribute(capabilityId: string, purpose: string, args: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(callEvidence(capabilityId, purpose, args));
}
