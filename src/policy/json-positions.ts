/**
 * A small JSON reader that remembers where each value starts, so that a schema error deep in a
 * rules file can name its line. Stricter than JSON.parse in one way on purpose: a duplicate key
 * is an error, since two readers could otherwise disagree about which value counts.
 */
import { formatPath } from './errors.js';

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

export interface PositionedJson {
  readonly value: unknown;
  /** formatPath(path) → offset of the value (for object members: of the key). */
  readonly positions: ReadonlyMap<string, number>;
}

export function parseJsonWithPositions(text: string): PositionedJson {
  const positions = new Map<string, number>();
  let i = 0;
  const ws = (): void => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const fail = (what: string): never => {
    throw new JsonSyntaxError(i >= text.length ? `unexpected end of input, expected ${what}` : `unexpected ${JSON.stringify(text[i])}, expected ${what}`, i);
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '\\') i += 2;
      else if (c === '"') break;
      else i++;
    }
    if (i >= text.length) {
      i = start;
      fail('a closing quote');
    }
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return fail('a valid string');
    }
  };
  const value = (path: PropertyKey[], depth: number): unknown => {
    if (depth > 64) fail('less nesting (at most 64 levels)');
    ws();
    if (!path.length || !positions.has(formatPath(path))) positions.set(formatPath(path), i);
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = Object.create(null);
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('a quoted key');
        const keyAt = i;
        const key = string();
        if (Object.hasOwn(obj, key)) {
          i = keyAt;
          fail(`no duplicate key (${JSON.stringify(key)} appears twice)`);
        }
        positions.set(formatPath([...path, key]), keyAt);
        ws();
        if (text[i] !== ':') fail('":"');
        i++;
        obj[key] = value([...path, key], depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail('"," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value([...path, arr.length], depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail('"," or "]"');
      }
    }
    if (c === '"') return string();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (m === null) return fail('a JSON value');
    i += m[0].length;
    const lit = m[0];
    return lit === 'true' ? true : lit === 'false' ? false : lit === 'null' ? null : Number(lit);
  };
  const result = value([], 0);
  ws();
  if (i < text.length) fail('end of input');
  return { value: result, positions };
}
