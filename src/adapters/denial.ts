/**
 * How a denial reaches the model. Adapters hand the model a structured, non-secret message by
 * default so the agent can choose another path; hosts that prefer a hard stop opt into `throw`.
 * The message is built only from `ToolDeniedError.toJSON()`, which holds ids, a code and a
 * reason, never a token or a credential.
 */
import { z } from 'zod';
import { ToolDeniedError } from '../errors.js';

export type DenialMode = 'message' | 'throw';

/** What the model (and a CI assertion) sees when the guard refuses a call. */
export type DenialMessage = ReturnType<ToolDeniedError['toJSON']>;

export const denialModeSchema = z.enum(['message', 'throw']);

/** The guard's refusal, if `err` is one; anything else is the tool's own failure. */
export function asDenial(err: unknown): ToolDeniedError | undefined {
  return err instanceof ToolDeniedError ? err : undefined;
}

export function denialMessage(denial: ToolDeniedError): DenialMessage {
  return denial.toJSON();
}

/** One line of JSON: models read it, tests parse it. */
export function denialText(denial: ToolDeniedError): string {
  return JSON.stringify(denial.toJSON());
}

/** Reads a denial back from a framework's tool output (string or object); undefined if it is none. */
export function parseDenial(output: unknown): DenialMessage | undefined {
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
