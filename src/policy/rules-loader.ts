/**
 * Reads a rules file (JSON or YAML) into a rules engine, with every problem placed at its line
 * and column. The `yaml` package is an optional peer, loaded only when a YAML file is read.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { formatPath, InvalidPolicyError, lineColumn, type PolicyIssue } from './errors.js';
import { JsonSyntaxError, parseJsonWithPositions } from './json-positions.js';
import { createRulesEngine, type RulesEngine, type RulesEngineOptions } from './rules.js';
import { rulesDocumentSchema } from './rules-schema.js';

export type RulesFormat = 'json' | 'yaml';

export interface ParseRulesOptions extends Omit<RulesEngineOptions, 'source'> {
  format: RulesFormat;
  /** File name or label for error messages. */
  source?: string;
}

type Locate = (path: readonly PropertyKey[]) => number | undefined;

/** Parses and validates rules text, then compiles it; throws `InvalidPolicyError` with lines. */
export async function parseRules(text: string, options: ParseRulesOptions): Promise<RulesEngine> {
  const source = options.source ?? `<rules.${options.format}>`;
  if (typeof text !== 'string') throw new TypeError('parseRules needs the rules text as a string');
  const { value, locate } = options.format === 'json' ? readJson(text, source) : await readYaml(text, source);
  const parsed = rulesDocumentSchema.safeParse(value, { reportInput: false });
  if (!parsed.success) {
    const issues: PolicyIssue[] = parsed.error.issues.map((issue) => {
      const path = issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined ? [...issue.path, issue.keys[0]] : issue.path;
      let offset: number | undefined;
      for (let n = path.length; n >= 0 && offset === undefined; n--) offset = locate(path.slice(0, n));
      return { path: formatPath(issue.path), message: issue.message, ...(offset === undefined ? {} : lineColumn(text, offset)) };
    });
    throw new InvalidPolicyError(source, issues);
  }
  const { format: _format, ...engineOptions } = options;
  return createRulesEngine(parsed.data, { ...engineOptions, source });
}

/** Reads a `.json`, `.yaml` or `.yml` rules file and compiles it. */
export async function loadRulesFile(path: string, options: Omit<ParseRulesOptions, 'format' | 'source'> & { format?: RulesFormat } = {}): Promise<RulesEngine> {
  const ext = extname(path).toLowerCase();
  const format = options.format ?? (ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined);
  if (format === undefined) throw new TypeError(`cannot tell the format of ${path}: use .json, .yaml or .yml, or pass { format }`);
  const text = await readFile(path, 'utf8');
  return parseRules(text, { ...options, format, source: path });
}

function readJson(text: string, source: string): { value: unknown; locate: Locate } {
  try {
    const { value, positions } = parseJsonWithPositions(text);
    return { value, locate: (p) => positions.get(formatPath(p)) };
  } catch (err) {
    if (err instanceof JsonSyntaxError) {
      throw new InvalidPolicyError(source, [{ path: '', message: `invalid JSON: ${err.message}`, ...lineColumn(text, err.offset) }]);
    }
    throw err;
  }
}

async function readYaml(text: string, source: string): Promise<{ value: unknown; locate: Locate }> {
  let yaml: typeof import('yaml');
  try {
    yaml = await import('yaml');
  } catch {
    throw new TypeError('reading YAML rules needs the optional peer dependency "yaml": npm install yaml');
  }
  const doc = yaml.parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new InvalidPolicyError(
      source,
      doc.errors.map((e) => ({ path: '', message: `invalid YAML: ${e.message.split('\n')[0] ?? e.code}`, ...lineColumn(text, e.pos[0]) })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 0 }) as unknown;
  } catch (err) {
    // Aliases are refused outright (no alias expansion bombs); yaml reports that as a plain error.
    if (!(err instanceof ReferenceError)) throw err;
    throw new InvalidPolicyError(source, [{ path: '', message: 'invalid YAML: aliases (*name) are not accepted in rules files' }]);
  }
  const locate: Locate = (path) => {
    if (path.length === 0) return doc.contents?.range?.[0];
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1) as unknown[], true);
    const last = path[path.length - 1];
    if (yaml.isMap(parent)) {
      const pair = parent.items.find((it) => yaml.isScalar(it.key) && it.key.value === last);
      const key = pair?.key as { range?: [number, number, number] } | undefined;
      return key?.range?.[0];
    }
    if (yaml.isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last] as { range?: [number, number, number] } | undefined;
      return item?.range?.[0];
    }
    return undefined;
  };
  return { value, locate };
}
