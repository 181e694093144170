/**
 * Argument parsing on node:util parseArgs, strict, with help text kept next to the options it
 * describes so that `--help` can never disagree with what a command accepts.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliUsageError } from './io.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Shown in `--help`, e.g. `<file>`. */
  readonly value?: string;
  readonly help: string;
}

export interface CommandSpec {
  /** e.g. `keys generate`. */
  readonly name: string;
  readonly summary: string;
  /** e.g. `[options] <token>`. */
  readonly usage: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Extra paragraphs after the options: examples, exit codes. */
  readonly notes?: string;
  /** How many positionals the command takes. */
  readonly positionals?: { readonly min: number; readonly max: number };
}

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
  readonly help: boolean;
}

export function renderHelp(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    return [flag, o.help + (o.multiple ? ' (repeatable)' : '')] as const;
  });
  rows.push(['-h, --help', 'Show this help']);
  const width = Math.max(...rows.map((r) => r[0].length));
  const options = rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`).join('\n');
  return `tessera ${spec.name}: ${spec.summary}\n\nUsage: tessera ${spec.name} ${spec.usage}\n\nOptions:\n${options}\n${spec.notes ? `\n${spec.notes}\n` : ''}`;
}

export function parseCommand(spec: CommandSpec, argv: readonly string[]): Parsed {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs' messages name the flag only, never a value, so they are safe to show.
    throw new CliUsageError(`${err instanceof Error ? err.message : String(err)}\nRun "tessera ${spec.name} --help".`);
  }
  const help = parsed.values.help === true;
  if (!help && spec.positionals) {
    const n = parsed.positionals.length;
    if (n < spec.positionals.min || n > spec.positionals.max) {
      throw new CliUsageError(`tessera ${spec.name} ${spec.usage}: wrong number of arguments\nRun "tessera ${spec.name} --help".`);
    }
  } else if (!help && parsed.positionals.length > 0) {
    throw new CliUsageError(`tessera ${spec.name} takes no arguments besides options\nRun "tessera ${spec.name} --help".`);
  }
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals, help };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function requireStr(p: Parsed, spec: CommandSpec, name: string): string {
  const v = str(p, name);
  if (v === undefined || v.length === 0) throw new CliUsageError(`tessera ${spec.name}: --${name} is required\nRun "tessera ${spec.name} --help".`);
  return v;
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** A word from the command line safe to repeat in an error: short and plain, else not shown. */
export function safeWord(word: string): string {
  return /^[a-z][a-z-]{0,23}$/.test(word) ? `"${word}"` : '(not shown)';
}
