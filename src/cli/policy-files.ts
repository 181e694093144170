/** Policy files the CLI reads: rules documents (JSON or YAML) and Cedar policy sets. */
import { resolve, extname } from 'node:path';
import { InvalidPolicyError } from '../policy/errors.js';
import { loadRulesFile } from '../policy/rules-loader.js';
import type { PolicyEngine } from '../policy/types.js';
import { CliError, type CliIo } from './io.js';

export async function loadPolicyFile(io: CliIo, path: string): Promise<PolicyEngine> {
  const ext = extname(path).toLowerCase();
  if (ext === '.cedar') {
    throw new CliError(`${path}: Cedar policies are not available from the command line in this version; use a rules file (.json, .yaml)`);
  }
  if (ext !== '.json' && ext !== '.yaml' && ext !== '.yml') {
    throw new CliError(`${path}: unknown policy format; use .json, .yaml or .yml (rules) or .cedar`);
  }
  try {
    return await loadRulesFile(resolve(io.cwd, path));
  } catch (err) {
    if (err instanceof InvalidPolicyError) throw new CliError(err.message.split(resolve(io.cwd, path)).join(path));
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`policy file ${path}: no such file`);
    if (err instanceof TypeError) throw new CliError(`policy file ${path}: ${err.message}`);
    throw new CliError(`policy file ${path}: cannot be read`);
  }
}
