/**
 * An approver that asks a person on a terminal. The question shows what a human needs to decide
 * (agent, intent, tool, risk, why, a redacted preview of the arguments) and never the raw
 * arguments; only `y` or `yes` approves, anything else (or the deadline) denies.
 */
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { z } from 'zod';
import { objectWithMethods } from '../util/option-schemas.js';
import { parseOptions } from '../util/options.js';
import { bindingOf } from './approval.js';
import type { ApprovalAnswer, ApprovalRequest, Approver } from './types.js';

export interface TerminalApproverOptions {
  /** Default `process.stdin`. */
  input?: NodeJS.ReadableStream;
  /** Default `process.stderr`, so that the prompt does not mix with a program's output. */
  output?: NodeJS.WritableStream;
  /** Who is answering, recorded on the span; default `terminal:<os user>`. */
  approver?: string;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

// Control characters, line and paragraph separators and bidi controls: a model-supplied argument
// could otherwise move the cursor, erase lines or start a fake line of the question.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const printable = (v: unknown): string => String(v).replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Renders the question a person sees; exported so that other approvers can show the same. */
export function describeApprovalRequest(request: Omit<ApprovalRequest, 'signal'>): string {
  const args = Object.entries(request.argsPreview).map(([k, v]) => `    ${printable(k)}: ${printable(v)}`);
  return [
    '',
    `Approval needed: ${printable(request.tool)} (${printable(request.risk)})`,
    `  agent:   ${printable(request.agent)}`,
    `  intent:  ${printable(request.intent.purpose)} [${printable(request.intent.id)}]`,
    `  why:     ${printable(request.why)}`,
    '  arguments:',
    ...(args.length > 0 ? args : ['    (none)']),
    '',
  ].join('\n');
}

const optionsSchema = z.strictObject({
  input: objectWithMethods<NodeJS.ReadableStream>(['on'], 'a readable stream').optional(),
  output: objectWithMethods<NodeJS.WritableStream>(['write'], 'a writable stream').optional(),
  approver: z.string().min(1).optional(),
});

export function createTerminalApprover(options: TerminalApproverOptions = {}): Approver {
  parseOptions(optionsSchema, options, 'createTerminalApprover options');
  const who = options.approver ?? `terminal:${osUser()}`;
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stderr;
  // One question at a time: concurrent prompts on one terminal would garble each other.
  let queue: Promise<unknown> = Promise.resolve();
  return ({ signal, ...request }: ApprovalRequest): Promise<ApprovalAnswer> => {
    const ask = async (): Promise<ApprovalAnswer> => {
      if (signal.aborted) return { approved: false, approver: who, reason: 'the call ended before it was asked' };
      const rl = createInterface({ input, output, terminal: false });
      try {
        output.write(describeApprovalRequest(request));
        const answer = (await rl.question('Approve this call? [y/N] ', { signal })).trim().toLowerCase();
        if (answer === 'y' || answer === 'yes') return { approved: true, approver: who, binding: bindingOf(request) };
        return { approved: false, approver: who, reason: 'refused on the terminal' };
      } catch {
        return { approved: false, approver: who, reason: 'no answer on the terminal' };
      } finally {
        rl.close();
      }
    };
    const next = queue.then(ask, ask);
    queue = next.catch(() => undefined);
    return next;
  };
}
