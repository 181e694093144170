/**
 * guardTool: wraps a tool implementation so that every call goes through the pipeline.
 */
import type { z } from 'zod';
import { toolNameSchema } from '../capability/claims.js';
import { RISK_TIERS } from '../policy/types.js';
import { durationSeconds } from '../util/time.js';
import { runGuardedCall, type GuardRuntime, type PreparedTool } from './pipeline.js';
import type { CallOptions, Guard, GuardedTool, ToolContext, ToolDefinition, ToolImplementation } from './types.js';

const TOOL_TYPES = new Set(['function', 'extension', 'datastore']);

export function prepareTool(definition: ToolDefinition): PreparedTool {
  if (definition === null || typeof definition !== 'object') throw new TypeError('tool definition must be an object');
  const name = toolNameSchema.safeParse(definition.name);
  if (!name.success) throw new TypeError(`tool name ${JSON.stringify(definition.name)} is invalid: ${name.error.issues[0]?.message}`);
  if (typeof definition.description !== 'string') throw new TypeError(`tool "${definition.name}": description must be a string`);
  const input = definition.input as { safeParse?: unknown } | undefined;
  if (input === undefined || typeof input.safeParse !== 'function') throw new TypeError(`tool "${definition.name}": input must be a zod schema`);
  const risk = definition.risk ?? 'write';
  if (!RISK_TIERS.includes(risk)) throw new TypeError(`tool "${definition.name}": risk must be one of ${RISK_TIERS.join(', ')}`);
  const type = definition.type ?? 'function';
  if (!TOOL_TYPES.has(type)) throw new TypeError(`tool "${definition.name}": type must be function, extension or datastore`);
  if (definition.mode !== undefined && definition.mode !== 'enforce' && definition.mode !== 'shadow') {
    throw new TypeError(`tool "${definition.name}": mode must be 'enforce' or 'shadow'`);
  }
  if (definition.evidence !== undefined && typeof definition.evidence !== 'boolean') throw new TypeError(`tool "${definition.name}": evidence must be a boolean`);
  return Object.freeze({
    name: definition.name,
    description: definition.description,
    input: definition.input,
    risk,
    type,
    credentialAudience: definition.credential?.audience ?? definition.name,
    credentialTtlSec: definition.credential?.ttl === undefined ? undefined : durationSeconds(definition.credential.ttl, 'credential.ttl'),
    mode: definition.mode,
    evidence: definition.evidence,
    definition,
  });
}

export function wrapTool<S extends z.ZodType, R>(
  guard: Guard,
  runtime: GuardRuntime,
  tool: PreparedTool,
  implementation: ToolImplementation<S, R>,
): GuardedTool<S, R> {
  if (typeof implementation !== 'function') throw new TypeError(`tool "${tool.name}": implementation must be a function`);
  const impl = implementation as unknown as (args: unknown, ctx: ToolContext) => unknown;
  const guarded = (args: z.input<S>, options?: CallOptions): Promise<R> =>
    runGuardedCall(runtime, tool, impl, args, options) as Promise<R>;
  Object.defineProperty(guarded, 'name', { value: tool.name });
  Object.defineProperties(guarded, {
    definition: { value: Object.freeze({ ...tool.definition, risk: tool.risk, type: tool.type }), enumerable: true },
    guard: { value: guard, enumerable: true },
  });
  return guarded as GuardedTool<S, R>;
}

/** How `guardTool` reaches the guard that wraps the tool. Not public API: `guardTool` is the one way. */
export const GUARD_TOOL: unique symbol = Symbol('tessera.guard.tool');

/** Wraps a tool so that every call is authorized, credentialed and recorded. */
export function guardTool<S extends z.ZodType, R>(
  guard: Guard,
  definition: ToolDefinition<S>,
  implementation: ToolImplementation<S, R>,
): GuardedTool<S, R> {
  const wrap = (guard as unknown as { readonly [GUARD_TOOL]?: unknown } | null | undefined)?.[GUARD_TOOL];
  if (typeof wrap !== 'function') throw new TypeError('guardTool needs a guard made by createGuard');
  return (wrap as (d: ToolDefinition<S>, i: ToolImplementation<S, R>) => GuardedTool<S, R>).call(guard, definition, implementation);
}
