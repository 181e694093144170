/**
 * Canonical JSON (RFC 8785: sorted keys, no whitespace) and its SHA-256, so that the same
 * arguments hash the same on the agent's side, in the guard and downstream.
 */
import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';

export class NotJsonError extends TypeError {}

const MAX_DEPTH = 64;
const OBJECT_PROTO = Object.prototype;

/**
 * The general writer: any input, with `toJSON`, class instances and the checks that reject what
 * is not JSON. Output goes through `emit` in pieces so that large values can be hashed as they
 * are written instead of being held whole.
 */
class Writer {
  buf = '';
  constructor(private readonly emit: ((chunk: string) => void) | undefined) {}

  private put(s: string): void {
    this.buf += s;
    if (this.emit !== undefined && this.buf.length > 65_536) {
      this.emit(this.buf);
      this.buf = '';
    }
  }

  write(value: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw new NotJsonError('arguments nest deeper than 64 levels');
    if (value === null) {
      this.put('null');
      return;
    }
    switch (typeof value) {
      case 'string':
      case 'boolean':
        // JSON.stringify escapes strings exactly as RFC 8785 asks (the shortest escapes, lowercase \u00xx).
        this.put(JSON.stringify(value));
        return;
      case 'number':
        if (!Number.isFinite(value)) throw new NotJsonError('arguments contain a non-finite number');
        // ECMAScript's number to string is the serialisation RFC 8785 specifies.
        this.put(JSON.stringify(value));
        return;
      case 'object': {
        const toJSON = (value as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') {
          this.write((value as { toJSON(): unknown }).toJSON(), depth + 1);
          return;
        }
        if (Array.isArray(value)) {
          this.put('[');
          for (let i = 0; i < value.length; i++) {
            if (i > 0) this.put(',');
            const v: unknown = value[i];
            this.write(v === undefined ? null : v, depth + 1);
          }
          this.put(']');
          return;
        }
        // Default sort: by UTF-16 code units, the order RFC 8785 specifies.
        const keys = Object.keys(value).sort();
        this.put('{');
        let first = true;
        for (const k of keys) {
          const v = (value as Record<string, unknown>)[k];
          if (v === undefined) continue;
          this.put(first ? `${JSON.stringify(k)}:` : `,${JSON.stringify(k)}:`);
          first = false;
          this.write(v, depth + 1);
        }
        this.put('}');
        return;
      }
      default:
        throw new NotJsonError(`arguments contain a ${typeof value}, which is not JSON`);
    }
  }
}

/**
 * The fast paths. When a value is plain JSON data (objects with Object or null prototype, arrays,
 * strings, finite numbers, booleans, null) whose every object already lists its keys in sorted
 * order, `JSON.stringify(value)` is its canonical form. When the keys are not in order,
 * `JSON.stringify(value, keys)` with every object key in the value, sorted, writes each object's
 * members in that order, which is again the canonical form at native speed. This walk checks the
 * value, the order and collects the keys; anything else (a `toJSON`, a class instance, a non-JSON
 * value, too deep) goes to the general writer, which also produces the errors.
 */
interface Scan {
  keys: Set<string>;
  objects: number;
  members: number;
  sorted: boolean;
}

function scan(value: unknown, depth: number, s: Scan): boolean {
  if (typeof value !== 'object') {
    return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
  }
  if (value === null) return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      // JSON.stringify writes an undefined element as null, as the general writer does.
      if (v !== undefined && !scan(v, depth + 1, s)) return false;
    }
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== OBJECT_PROTO && proto !== null) return false;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  const keys = Object.keys(value);
  s.objects++;
  s.members += keys.length;
  let previous = '';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    // `<` on strings compares UTF-16 code units: the order RFC 8785 specifies.
    if (i > 0 && !(previous < k)) s.sorted = false;
    previous = k;
    s.keys.add(k);
    if (!scan(v, depth + 1, s)) return false;
  }
  return true;
}

/**
 * Most tool arguments are one object of named strings, numbers and flags. For those, a copy with
 * the members inserted in sorted order serialises at JSON.stringify's own speed (100 B: about
 * 1.4x JSON.stringify + SHA-256, against 2.3x through the key list). Undefined when the value is
 * anything else. Object property order puts integer-like keys first whatever the insertion order,
 * and `__proto__` would set the copy's prototype: a key that starts with a digit or is
 * `__proto__` leaves it to the other paths.
 */
function flat(value: object): string | undefined {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== OBJECT_PROTO && proto !== null) return undefined;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return undefined;
  const keys = Object.keys(value);
  let sorted = true;
  let previous = '';
  let present = 0;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = (value as Record<string, unknown>)[k];
    switch (typeof v) {
      case 'undefined':
        continue;
      case 'string':
      case 'boolean':
        break;
      case 'number':
        if (!Number.isFinite(v)) return undefined;
        break;
      case 'object':
        if (v === null) break;
        return undefined;
      default:
        return undefined;
    }
    const c = k.charCodeAt(0);
    if ((c >= 48 && c <= 57) || k === '__proto__') return undefined;
    if (present > 0 && !(previous < k)) sorted = false;
    previous = k;
    keys[present++] = k;
  }
  if (sorted) return JSON.stringify(value);
  keys.length = present;
  // Both sort by UTF-16 code units (RFC 8785's order). For the few members of a typical call,
  // insertion sort is about 3x cheaper than Array.prototype.sort; it is quadratic, so a large
  // object (a record the caller filled) takes the built-in sort.
  if (present > 32) {
    keys.sort();
  } else {
    for (let i = 1; i < present; i++) {
      const k = keys[i]!;
      let j = i - 1;
      while (j >= 0 && keys[j]! > k) {
        keys[j + 1] = keys[j]!;
        j--;
      }
      keys[j + 1] = k;
    }
  }
  const copy: Record<string, unknown> = {};
  for (let i = 0; i < present; i++) copy[keys[i]!] = (value as Record<string, unknown>)[keys[i]!];
  return JSON.stringify(copy);
}

/** The canonical form by the fast path, or undefined when the value needs the general writer. */
function fast(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const quick = flat(value);
    if (quick !== undefined) return quick;
  }
  const s: Scan = { keys: new Set(), objects: 0, members: 0, sorted: true };
  if (!scan(value, 0, s)) return undefined;
  // Without a key list JSON.stringify reads own keys only, in their order: already canonical.
  if (s.sorted) return JSON.stringify(value);
  // JSON.stringify looks every listed key up on every object: with many distinct keys spread over
  // many objects that is quadratic, and the general writer is cheaper.
  if (s.keys.size > 16 && s.objects * s.keys.size > 8 * s.members + 4096) return undefined;
  const keys = [...s.keys];
  // A listed key is looked up through the prototype on objects that lack it: any key that
  // Object.prototype answers (such as "__proto__", or one planted by prototype pollution) would
  // be written for them. Such values take the general writer, which reads own keys only.
  for (let i = 0; i < keys.length; i++) if (keys[i]! in OBJECT_PROTO) return undefined;
  return JSON.stringify(value, keys.sort());
}

/** RFC 8785 (JCS) canonical JSON: sorted keys, no whitespace, ECMAScript number and string forms. */
export function canonicalJson(value: unknown): string {
  const quick = fast(value);
  if (quick !== undefined) return quick;
  const w = new Writer(undefined);
  w.write(value, 0);
  return w.buf;
}

// One-shot `crypto.hash` (Node 20.12+) skips the Hash object: about 40% cheaper per call.
const oneShot = (nodeCrypto as { hash?: (alg: string, data: string, encoding: 'base64url') => string }).hash;
const sha256 = (data: string): string =>
  oneShot !== undefined ? oneShot('sha256', data, 'base64url') : createHash('sha256').update(data).digest('base64url');

/** base64url SHA-256 of the canonical JSON of `value`. */
export function hashArguments(value: unknown): string {
  const quick = fast(value);
  if (quick !== undefined) return sha256(quick);
  // The general writer feeds the hash as it goes, so a large value is never held whole.
  const hash = createHash('sha256');
  const w = new Writer((chunk) => hash.update(chunk, 'utf8'));
  w.write(value, 0);
  return hash.update(w.buf, 'utf8').digest('base64url');
}

// Random bytes are drawn in blocks: one syscall per 256 ids instead of one per id.
const POOL_SIZE = 16 * 256;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

/** A flat 128-bit random id (flat strings keep long-lived stores small). */
export function randomId(): string {
  if (offset + 16 > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + 16);
  offset += 16;
  return id;
}
