/**
 * Calls as the advisor reads them, with the evidence the guard records for those arguments
 * (`callEvidence`), so the advisor's folding is tested on known inputs.
 */
import type { ObservedCall, Retrieval } from '../../src/advise/observed-call.js';
import { callEvidence } from '../../src/telemetry/evidence.js';


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
  const present = Object.fromEntries(Object.entries(c.args ?? {}).filter(([, v]) => v !== undefined));
  const { args } = callEvidence(cap, c.purpose ?? PURPOSE, present);
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
