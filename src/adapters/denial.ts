/**
 * How a denial reaches the model. Adapters hand the model a structured, non-secret message by
 * default so the agent can choose another path; hosts that prefer a hard stop opt into `throw`.
 * The message is built only from `ToolDeniedError.toJSON()`, which holds ids, a code and a
 * reason, never a token or a credential. What the model reads also never lists the other tools
 * its capability grants (a `tool_not_granted` reason does, for the developer): a model steered
 * by injected text would learn what else it could reach.
 */
import { z } from 'zod';
import { isToolDeniedError, type ToolDeniedError } from '../errors.js';

export type DenialMode = 'message' | 'throw';

/** What the model (and a CI assertion) sees when the guard refuses a call. */
export type DenialMessage = ReturnType<ToolDeniedError['toJSON']>;

export const denialModeSchema = z.enum(['message', 'throw']);

/** The guard's refusal, if `err` is one; anything else is the tool's own failure. */
export function asDenial(err: unknown): ToolDeniedError | undefined {
  // Recognised across copies of the package (its ESM and CommonJS builds loaded side by side).
  return isToolDeniedError(err) ? err : undefined;
}

/** The denial as the model sees it. */
export function denialMessage(denial: ToolDeniedError): DenialMessage {
  const json = denial.toJSON();
  if (json.code !== 'tool_not_granted') return json;
  const intent = denial.intentId === undefined ? 'the capability' : `the capability for intent ${JSON.stringify(denial.intentId)}`;
  return { ...json, reason: `${intent} does not grant ${JSON.stringify(denial.tool)}` };
}

/** One line of JSON: models read it, tests parse it. */
export function denialText(denial: ToolDeniedError): string {
  return JSON.stringify(denialMessage(denial));
}

/**
 * Reads a denial back from a framework's tool output: the JSON text, the parsed object, an MCP
 * `CallToolResult` (its `_meta` or text content), its `content` array, or a LangChain message
 * content. Undefined if it is none.
 */
export function parseDenial(output: unknown): DenialMessage | undefined {
  return readDenial(output, 0);
}

function readDenial(output: unknown, depth: number): DenialMessage | undefined {
  // Framework outputs nest a couple of levels at most; a deeper value is not a denial.
  if (depth > 4) return undefined;
  if (Array.isArray(output)) {
    for (const part of output) {
      const found = readDenial(part, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (output !== null && typeof output === 'object') {
    const o = output as { type?: unknown; text?: unknown; content?: unknown; _meta?: unknown };
    if (o.type === 'text' && typeof o.text === 'string') return readDenial(o.text, depth + 1);
    if (o._meta !== null && typeof o._meta === 'object' && Object.hasOwn(o._meta, 'tessera/denial')) {
      const meta = readDenial((o._meta as Record<string, unknown>)['tessera/denial'], depth + 1);
      if (meta !== undefined) return meta;
    }
    if (Array.isArray(o.content) || typeof o.content === 'string') return readDenial(o.content, depth + 1);
  }
  let value = output;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Partial<DenialMessage>;
  return v.denied === true && typeof v.code === 'string' && typeof v.reason === 'string' ? (v as DenialMessage) : undefined;
}

/**
 * Options are checked once when a tool is adapted, so a typo fails at startup rather than on
 * the first denied call in production.
 */
export function parseOptions<T>(schema: z.ZodType<T>, options: unknown, adapter: string): T {
  const parsed = schema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.map(String).join('.') || 'options';
    throw new TypeError(`${adapter}: ${where}: ${issue?.message ?? 'invalid options'}`);
  }
  return parsed.data;
}

export const functionSchema = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function');
