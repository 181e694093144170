/**
 * An approver that asks a person on a terminal. The question shows what a human needs to decide
 * (agent, intent, tool, risk, why, a redacted preview of the arguments) and never the raw
 * arguments; only `y` or `yes` approves, anything else (or the deadline) denies.
 */
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
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

/** Renders the question a person sees; exported so that other approvers can show the same. */
export function describeApprovalRequest(request: Omit<ApprovalRequest, 'signal'>): string {
  const args = Object.entries(request.argsPreview).map(([k, v]) => `    ${k}: ${v}`);
  return [
    '',
    `Approval needed: ${request.tool} (${request.risk})`,
    `  agent:   ${request.agent}`,
    `  intent:  ${request.intent.purpose} [${request.intent.id}]`,
    `  why:     ${request.why}`,
    '  arguments:',
    ...(args.length > 0 ? args : ['    (none)']),
    '',
  ].join('\n');
}

export function createTerminalApprover(options: TerminalApproverOptions = {}): Approver {
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
