/**
 * Calls as the advisor reads them, with evidence built to the evidence contract (the shapes and
 * the hash the guard records), so the advisor's folding is tested on known inputs.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { ObservedCall, Retrieval, Shape } from '../../src/advise/observed-call.js';

const hash = (cap: string, arg: string, value: string): string =>
  createHash('sha256').update(`${cap}\u0000${arg}\u0000${value}`).digest('base64url').slice(0, 22);

/** The shape the contract records for a value. */
export function shapeOf(value: unknown, cap: string, arg: string): Shape {
  if (typeof value === 'string') {
    if (value.includes('://')) {
      try {
        const u = new URL(value);
        return { t: 'url', scheme: u.protocol.slice(0, -1), host: u.hostname };
      } catch {
        // not a URL: falls through
      }
    }
    const at = value.indexOf('@');
    if (at > 0 && at === value.lastIndexOf('@') && at < value.length - 1) return { t: 'email', domain: value.slice(at + 1), h: hash(cap, arg, value) };
    if (/^(\/|\.\/|\.\.\/|~\/)/.test(value)) return { t: 'path', dir: posix.dirname(posix.normalize(value)) };
    return { t: 'string', len: value.length, h: hash(cap, arg, value) };
  }
  if (typeof value === 'number') return { t: 'number', v: value };
  if (typeof value === 'boolean') return { t: 'boolean', v: value };
  if (Array.isArray(value)) return { t: 'array', len: value.length, items: value.slice(0, 16).map((v) => shapeOf(v, cap, arg)) };
  return { t: 'object', keys: Object.keys(value as object).length };
}

export interface CallInput {
  tool: string;
  args?: Record<string, unknown> | undefined;
  agent?: string;
  intent?: string;
  purpose?: string;
  cap?: string;
  decision?: 'allow' | 'deny' | 'error';
  code?: string;
  enforced?: boolean;
  at?: number;
  evidence?: boolean;
  retrievals?: Retrieval[];
}

export const AGENT = 'spiffe://example.org/agents/support';
export const PURPOSE = 'Answer support tickets';

export function call(c: CallInput): ObservedCall {
  const cap = c.cap ?? 'cap-1';
  const args = Object.create(null) as Record<string, Shape>;
  for (const [k, v] of Object.entries(c.args ?? {})) if (v !== undefined) args[k] = shapeOf(v, cap, k);
  return {
    tool: c.tool,
    agent: c.agent ?? AGENT,
    intentId: c.intent ?? 'ticket-1',
    capabilityId: cap,
    decision: c.decision ?? 'allow',
    code: c.code,
    enforced: c.enforced ?? true,
    startMs: c.at ?? 0,
    evidence: c.evidence === false ? undefined : { purpose: c.purpose ?? PURPOSE, args },
    malformedEvidence: false,
    retrievals: c.retrievals ?? [],
  };
}
