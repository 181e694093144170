/**
 * File handling for the CLI. Errors name the file and what is wrong with it, never its content:
 * a key file or a token file is a secret, and a parser's message may quote the text it read.
 */
import { constants } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { CliError } from './io.js';
import type { CliIo } from './io.js';

const MAX_INPUT_BYTES = 4 * 1024 * 1024;

/** Reads a file (or standard input for `-`) as text. */
export async function readInput(io: CliIo, path: string, what: string): Promise<string> {
  if (path === '-') return io.readStdin();
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, path), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : 'cannot be read';
    throw new CliError(`${what} ${path}: ${why}`);
  }
  if (text.length > MAX_INPUT_BYTES) throw new CliError(`${what} ${path}: larger than ${MAX_INPUT_BYTES} bytes`);
  return text;
}

/** Parses JSON, or YAML for `.yaml`/`.yml` files (the optional `yaml` peer). */
export async function readStructured(io: CliIo, path: string, what: string): Promise<unknown> {
  const text = await readInput(io, path, what);
  const ext = extname(path).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') {
    let yaml: typeof import('yaml');
    try {
      yaml = await import('yaml');
    } catch {
      throw new CliError(`${what} ${path}: reading YAML needs the "yaml" package (npm install yaml), or use JSON`);
    }
    try {
      return yaml.parse(text, { maxAliasCount: 100 });
    } catch (err) {
      const pos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
      throw new CliError(`${what} ${path}: not valid YAML${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`${what} ${path}: not valid JSON${ext === '' || ext === '.json' ? '' : ' (use .yaml or .yml for YAML)'}`);
  }
}

/** Reads a JSON object file; the error says which file when it is not an object. */
export async function readJsonObject(io: CliIo, path: string, what: string): Promise<Record<string, unknown>> {
  const value = await readStructured(io, path, what);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CliError(`${what} ${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Writes a secret to a new file readable by its owner only. The mode is set when the file is
 * created (O_CREAT|O_EXCL), so there is no moment at which another user could open it.
 */
export async function writeSecretFile(io: CliIo, path: string, text: string, overwrite: boolean): Promise<void> {
  const full = resolve(io.cwd, path);
  if (overwrite) await unlink(full).catch(() => undefined);
  let handle;
  try {
    handle = await open(full, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError(`${path} already exists; pass --force to replace it`);
    throw new CliError(`${path}: cannot be created (${code ?? 'error'})`);
  }
  try {
    await handle.writeFile(text, 'utf8');
  } finally {
    await handle.close();
  }
}
