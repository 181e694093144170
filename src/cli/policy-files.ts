/** Policy files the CLI reads: rules documents (JSON or YAML) and Cedar policy sets. */
import { extname, resolve } from 'node:path';
import { z } from 'zod';
import { InvalidPolicyError } from '../policy/errors.js';
import { loadRulesFile } from '../policy/rules-loader.js';
import { RISK_TIERS, type PolicyEngine, type RiskTier } from '../policy/types.js';
import { readInput } from './files.js';
import { CliError, type CliIo } from './io.js';

export interface CliTool {
  readonly name: string;
  readonly risk: RiskTier;
}

/** `email.send` or `email.send:external`. */
export function parseToolFlag(value: string): CliTool {
  const at = value.lastIndexOf(':');
  const risk = at > 0 ? value.slice(at + 1) : '';
  if (at > 0 && (RISK_TIERS as readonly string[]).includes(risk)) return { name: value.slice(0, at), risk: risk as RiskTier };
  return { name: value, risk: 'write' };
}

const ACTION_LITERAL = /Action::"((?:[^"\\]|\\.)+)"/g;

async function loadCedarFile(io: CliIo, path: string, tools: readonly CliTool[]): Promise<PolicyEngine> {
  const text = await readInput(io, path, 'policy file');
  // Without the tools' own definitions, the schema is built from the tools named on the command
  // line and in the policies' Action literals, with untyped arguments.
  const byName = new Map<string, CliTool>();
  for (const t of tools) byName.set(t.name, t);
  for (const m of text.matchAll(ACTION_LITERAL)) if (!byName.has(m[1]!)) byName.set(m[1]!, { name: m[1]!, risk: 'write' });
  if (byName.size === 0) byName.set('tool', { name: 'tool', risk: 'write' });
  let cedar: typeof import('../policy/cedar.js');
  try {
    cedar = await import('../policy/cedar.js');
  } catch {
    throw new CliError(`${path}: reading Cedar needs the "@cedar-policy/cedar-wasm" package (npm install @cedar-policy/cedar-wasm)`);
  }
  try {
    return cedar.createCedarEngine({
      policies: text,
      source: path,
      tools: [...byName.values()].map((t) => ({ name: t.name, input: z.looseObject({}), risk: t.risk })),
    });
  } catch (err) {
    if (err instanceof InvalidPolicyError) {
      const hint = err.issues.some((i) => /args/.test(i.message))
        ? "\n(the command line does not know your tools' argument schemas: validate policies that read context.args with createCedarEngine and your tools, e.g. in a test)"
        : '';
      throw new CliError(`${err.message}${hint}`);
    }
    if (err instanceof TypeError || err instanceof RangeError) throw new CliError(`policy file ${path}: ${err.message}`);
    throw new CliError(`policy file ${path}: cannot be compiled`);
  }
}

export async function loadPolicyFile(io: CliIo, path: string, tools: readonly CliTool[] = []): Promise<PolicyEngine> {
  const ext = extname(path).toLowerCase();
  if (ext === '.cedar') return loadCedarFile(io, path, tools);
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
