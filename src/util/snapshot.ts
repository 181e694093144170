/**
 * One snapshot of a call's arguments as plain JSON data, deeply frozen. The guard checks,
 * hashes, shows to the approver and hands to the tool this one copy, so nothing the caller
 * still holds (a getter answering differently on each read, a Proxy, an object with its own
 * `toJSON`, a reference mutated later) can make what runs differ from what was authorized.
 *
 * Only own enumerable data properties are read, each once, through its property descriptor, so
 * no getter or Proxy trap ever runs. Anything that is not plain data is refused with its path.
 */
import { types } from 'node:util';

export const SNAPSHOT_MAX_DEPTH = 64;
export const SNAPSHOT_MAX_VALUES = 100_000;

/** The arguments cannot be snapshotted as plain JSON data; `path` says where. */
export class SnapshotError extends TypeError {
  readonly path: string;
  readonly problem: string;

  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'SnapshotError';
    this.path = path;
    this.problem = problem;
  }
}

// Nodes this module built: deeply frozen plain data, reused as they are by a later snapshot
// (the arguments' schema may pass parts of an earlier snapshot through unchanged).
const BUILT = new WeakSet<object>();

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function renderPath(keys: readonly (string | number)[]): string {
  if (keys.length === 0) return '(root)';
  let out = '';
  for (const k of keys) {
    if (typeof k === 'number') out += `[${k}]`;
    else {
      // A key is the caller's data: shown clipped, never in full.
      const shown = k.length > 40 ? `${k.slice(0, 39)}…` : k;
      out += IDENTIFIER.test(k) ? (out === '' ? shown : `.${shown}`) : `[${JSON.stringify(shown)}]`;
    }
  }
  return out;
}

interface Walk {
  readonly path: (string | number)[];
  readonly ancestors: object[];
  readonly remember: boolean;
  values: number;
}

function fail(walk: Walk, problem: string): never {
  throw new SnapshotError(renderPath(walk.path), problem);
}

/** The value's class name for the reason, read without running any of the caller's code. */
function describe(proto: object): string {
  let name: string | undefined;
  if (!types.isProxy(proto)) {
    const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor');
    const fn = ctor !== undefined && 'value' in ctor && typeof ctor.value === 'function' && !types.isProxy(ctor.value) ? (ctor.value as object) : undefined;
    const own = fn === undefined ? undefined : Object.getOwnPropertyDescriptor(fn, 'name');
    if (own !== undefined && 'value' in own && typeof own.value === 'string' && /^[A-Za-z_$][\w$]{0,39}$/.test(own.value)) name = own.value;
  }
  return name === undefined ? 'an object with a foreign prototype is not plain JSON data' : `a ${name} is not plain JSON data`;
}

function copy(value: unknown, walk: Walk, depth: number): unknown {
  if (++walk.values > SNAPSHOT_MAX_VALUES) fail(walk, `the arguments hold more than ${SNAPSHOT_MAX_VALUES} values`);
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) fail(walk, 'a non-finite number is not JSON data');
      return value;
    case 'object':
      if (value === null) return null;
      break;
    case 'undefined':
      return fail(walk, 'undefined is not JSON data');
    default:
      return fail(walk, `a ${typeof value} is not JSON data`);
  }
  const obj = value as object;
  if (BUILT.has(obj)) return obj;
  // Checked first: reading a Proxy's prototype or keys would already run its traps.
  if (types.isProxy(obj)) fail(walk, 'a Proxy is not plain JSON data');
  if (depth >= SNAPSHOT_MAX_DEPTH) fail(walk, `the arguments nest deeper than ${SNAPSHOT_MAX_DEPTH} levels`);
  if (walk.ancestors.includes(obj)) fail(walk, 'the arguments contain a cycle');
  const proto = Object.getPrototypeOf(obj) as unknown;
  let out: unknown[] | Record<string, unknown>;
  walk.ancestors.push(obj);
  if (Array.isArray(obj)) {
    if (proto !== Array.prototype) fail(walk, proto === null ? 'an array without a prototype is not plain JSON data' : describe(proto as object));
    const length = obj.length;
    const arr = new Array<unknown>(length);
    for (let i = 0; i < length; i++) {
      const d = Object.getOwnPropertyDescriptor(obj, i);
      walk.path.push(i);
      if (d === undefined) fail(walk, 'an array with holes is not JSON data');
      if (!('value' in d!)) fail(walk, 'a getter (accessor property) is not plain data');
      arr[i] = copy(d!.value, walk, depth + 1);
      walk.path.pop();
    }
    out = arr;
  } else {
    if (proto !== Object.prototype && proto !== null) fail(walk, describe(proto as object));
    const rec: Record<string, unknown> = {};
    for (const key of Object.keys(obj)) {
      const d = Object.getOwnPropertyDescriptor(obj, key)!;
      walk.path.push(key);
      // Assigning "__proto__" would set the copy's prototype instead of a property.
      if (key === '__proto__') fail(walk, 'the key "__proto__" is reserved');
      if (!('value' in d)) fail(walk, 'a getter (accessor property) is not plain data');
      // Like JSON: a property holding undefined is absent.
      if (d.value !== undefined) rec[key] = copy(d.value, walk, depth + 1);
      walk.path.pop();
    }
    out = rec;
  }
  walk.ancestors.pop();
  Object.freeze(out);
  if (walk.remember) BUILT.add(out);
  return out;
}

/**
 * A deeply frozen copy of `value` as plain JSON data, read in one walk. Throws `SnapshotError`
 * naming the path of the first value that is not plain data. With `remember`, the copy's nodes
 * are recognised by a later snapshot and reused instead of copied again.
 */
export function snapshotArguments(value: unknown, options?: { readonly remember?: boolean }): unknown {
  return copy(value, { path: [], ancestors: [], remember: options?.remember === true, values: 0 }, 0);
}
