/**
 * Errors and denial codes.
 *
 * Every denial carries a stable snake_case `code`, a reason a developer can act on, and the
 * standards it answers, so that "why was this denied?" never needs a debugger. Messages and
 * fields never contain a token, a credential or a secret.
 */

/** Every reason the guard can refuse a call. Stable: dashboards and CI suites match on these. */
export type DenialCode =
  | 'capability_missing'
  | 'capability_invalid'
  | 'capability_expired'
  | 'capability_revoked'
  | 'identity_invalid'
  | 'identity_mismatch'
  | 'identity_unavailable'
  | 'proof_invalid'
  | 'replay_detected'
  | 'delegation_invalid'
  | 'tool_not_granted'
  | 'arguments_invalid'
  | 'arguments_out_of_scope'
  | 'call_limit_exceeded'
  | 'policy_denied'
  | 'policy_error'
  | 'approval_denied'
  | 'approval_timeout'
  | 'store_unavailable'
  | 'credential_unavailable'
  | 'call_aborted';

/** The standards a denial answers. */
export interface StandardsTags {
  /** OWASP Top 10 for Agentic Applications (2026); `none` when no entry applies. */
  readonly owaspAgentic: string;
  /** OWASP Agentic AI Threats and Mitigations; `['none']` when no threat applies. */
  readonly owaspThreats: readonly string[];
  /** CSA MAESTRO layer. */
  readonly maestro: string;
  /** NIST AI RMF subcategories. */
  readonly nist: readonly string[];
}

const TOOL_MISUSE: StandardsTags = {
  owaspAgentic: 'ASI02 Tool Misuse and Exploitation',
  owaspThreats: ['T2 Tool Misuse'],
  maestro: 'L3 Agent Frameworks',
  nist: ['GOVERN 1.4'],
};
const IDENTITY_ABUSE: StandardsTags = {
  owaspAgentic: 'ASI03 Identity and Privilege Abuse',
  owaspThreats: ['T3 Privilege Compromise', 'T9 Identity Spoofing and Impersonation'],
  maestro: 'L4 Deployment and Infrastructure',
  nist: ['MEASURE 2.7'],
};
const INTER_AGENT: StandardsTags = {
  owaspAgentic: 'ASI07 Insecure Inter-Agent Communication',
  owaspThreats: ['T13 Rogue Agents in Multi-Agent Systems'],
  maestro: 'L7 Agent Ecosystem',
  nist: ['GOVERN 1.4'],
};
const HUMAN_TRUST: StandardsTags = {
  owaspAgentic: 'ASI09 Human-Agent Trust Exploitation',
  owaspThreats: ['T10 Overwhelming Human in the Loop'],
  maestro: 'L6 Security and Compliance',
  nist: ['GOVERN 3.2', 'MAP 3.5'],
};
const ROGUE: StandardsTags = {
  owaspAgentic: 'ASI10 Rogue Agents',
  owaspThreats: ['T13 Rogue Agents in Multi-Agent Systems'],
  maestro: 'L6 Security and Compliance',
  nist: ['MANAGE 2.4'],
};
const CASCADING: StandardsTags = {
  owaspAgentic: 'ASI08 Cascading Failures',
  owaspThreats: ['T4 Resource Overload'],
  maestro: 'L4 Deployment and Infrastructure',
  nist: ['MANAGE 4.1'],
};
// A call its own caller aborted is not a threat: no OWASP entry or threat applies. It is
// recorded so that the stop shows in telemetry (MAESTRO's observability layer), and honouring it
// is the kind of disengage mechanism NIST AI RMF MANAGE 2.4 asks for.
const CANCELLED: StandardsTags = {
  owaspAgentic: 'none',
  owaspThreats: ['none'],
  maestro: 'L5 Evaluation and Observability',
  nist: ['MANAGE 2.4'],
};
const POLICY: StandardsTags = {
  owaspAgentic: 'ASI02 Tool Misuse and Exploitation',
  owaspThreats: ['T2 Tool Misuse', 'T6 Intent Breaking and Goal Manipulation'],
  maestro: 'L6 Security and Compliance',
  nist: ['GOVERN 1.4'],
};

/** The standards each denial code answers. */
export const DENIAL_STANDARDS: Readonly<Record<DenialCode, StandardsTags>> = Object.freeze({
  capability_missing: IDENTITY_ABUSE,
  capability_invalid: IDENTITY_ABUSE,
  capability_expired: IDENTITY_ABUSE,
  capability_revoked: ROGUE,
  identity_invalid: IDENTITY_ABUSE,
  identity_mismatch: IDENTITY_ABUSE,
  identity_unavailable: CASCADING,
  proof_invalid: IDENTITY_ABUSE,
  replay_detected: IDENTITY_ABUSE,
  delegation_invalid: INTER_AGENT,
  tool_not_granted: TOOL_MISUSE,
  arguments_invalid: TOOL_MISUSE,
  arguments_out_of_scope: TOOL_MISUSE,
  call_limit_exceeded: TOOL_MISUSE,
  policy_denied: POLICY,
  policy_error: CASCADING,
  approval_denied: HUMAN_TRUST,
  approval_timeout: HUMAN_TRUST,
  store_unavailable: CASCADING,
  credential_unavailable: CASCADING,
  call_aborted: CANCELLED,
});

/** All denial codes, in a stable order. */
export const DENIAL_CODES = Object.freeze(Object.keys(DENIAL_STANDARDS) as DenialCode[]);

const TAGS = new Map<DenialCode, readonly string[]>();

/** Compact tags for spans and logs, e.g. `["ASI02", "T2", "L3", "GOVERN 1.4"]`. */
export function standardsTags(code: DenialCode): string[] {
  let tags = TAGS.get(code);
  if (tags === undefined) {
    const s = DENIAL_STANDARDS[code];
    const id = (label: string): string => label.split(' ')[0] ?? label;
    // "none" marks a column no entry applies to; it is not a tag.
    tags = Object.freeze([id(s.owaspAgentic), ...s.owaspThreats.map(id), id(s.maestro), ...s.nist].filter((t) => t !== 'none'));
    TAGS.set(code, tags);
  }
  return [...tags];
}

/**
 * What an error's `cause` holds: the failing error's class name and a code, never its message,
 * payload or fields. A dependency's message may quote a secret (a password in a store URL) and
 * jose's claim errors carry the whole token payload, so neither may travel with a denial that
 * is logged, printed or handed to a model.
 */
export interface CauseSummary {
  /** The class name of the original error, e.g. `JWTExpired`, `ReplyError`; `NonError` for a thrown non-error. */
  readonly name: string;
  /** Its code when it has a constant-like one (`ERR_JWT_EXPIRED`, `ECONNREFUSED`, a denial code). */
  readonly code?: string;
  /** For a Tessera error, the summary of its own cause. */
  readonly cause?: CauseSummary;
}

const SUMMARIES = new WeakSet<object>();
const CLASS_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;
// Constant-style codes only (ERR_JWT_EXPIRED, ECONNREFUSED) and Tessera's snake_case codes: a
// free-form code could itself quote data.
const CONSTANT_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;
const TESSERA_CODE = /^[a-z][a-z0-9_]{0,63}$/;

function className(err: object): string {
  let name: unknown;
  try {
    name = (err as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    name = undefined;
  }
  return typeof name === 'string' && CLASS_NAME.test(name) ? name : err instanceof Error ? 'Error' : 'Object';
}

/**
 * A cause safe to keep on an error: a summary of `err` (see `CauseSummary`), or undefined for
 * no cause. Every error class Tessera throws runs its cause through this.
 */
export function safeCause(err: unknown, depth = 0): CauseSummary | undefined {
  if (err === undefined) return undefined;
  if (err === null || (typeof err !== 'object' && typeof err !== 'function')) return Object.freeze({ name: 'NonError' });
  if (SUMMARIES.has(err)) return err as CauseSummary;
  let code: unknown;
  let inner: unknown;
  const ours = err instanceof TesseraError;
  try {
    code = (err as { code?: unknown }).code;
    // A Tessera error's own cause was summarised when it was created.
    inner = ours ? (err as { cause?: unknown }).cause : undefined;
  } catch {
    code = undefined;
  }
  const summary: { name: string; code?: string; cause?: CauseSummary } = { name: className(err) };
  if (typeof code === 'string' && (CONSTANT_CODE.test(code) || (ours && TESSERA_CODE.test(code)))) summary.code = code;
  if (inner !== undefined && depth < 4) {
    const c = safeCause(inner, depth + 1);
    if (c !== undefined) summary.cause = c;
  }
  SUMMARIES.add(Object.freeze(summary));
  return summary;
}

/** Base class of every error Tessera throws on purpose. `code` narrows in a `switch`. */
export class TesseraError extends Error {
  static code = 'tessera_error';
  readonly code: string;

  constructor(message: string, code?: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: safeCause(options.cause) });
    this.name = new.target.name;
    this.code = code ?? (new.target as typeof TesseraError).code;
  }
}

export interface ToolDeniedDetails {
  readonly tool: string;
  readonly callId: string;
  /** Ids the developer can look up: capability id, intent id, policy ids. Never secrets. */
  readonly capabilityId?: string;
  readonly intentId?: string;
  readonly policyIds?: readonly string[];
}

/**
 * The guard refused a call; the tool's implementation did not run.
 *
 * `code` is stable, `reason` says what to change, `standards` says which risk it answers.
 */
export class ToolDeniedError extends TesseraError {
  static override code = 'tool_denied';
  declare readonly code: DenialCode;
  readonly reason: string;
  readonly tool: string;
  readonly callId: string;
  readonly capabilityId: string | undefined;
  readonly intentId: string | undefined;
  readonly policyIds: readonly string[];
  readonly standards: StandardsTags;

  constructor(code: DenialCode, reason: string, details: ToolDeniedDetails) {
    // A denial is an expected outcome, not a bug: its code and reason say why, and capturing a
    // stack would be most of what a denial costs. `stack` holds only the message.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`Tool "${details.tool}" denied (${code}): ${reason}`, code);
    Error.stackTraceLimit = limit;
    this.reason = reason;
    this.tool = details.tool;
    this.callId = details.callId;
    this.capabilityId = details.capabilityId;
    this.intentId = details.intentId;
    this.policyIds = details.policyIds ?? [];
    this.standards = DENIAL_STANDARDS[code];
  }

  /** A structured, non-secret summary suitable to hand back to a model or print in CI. */
  toJSON(): {
    denied: true;
    code: DenialCode;
    reason: string;
    tool: string;
    callId: string;
    standards: string[];
  } {
    return {
      denied: true,
      code: this.code,
      reason: this.reason,
      tool: this.tool,
      callId: this.callId,
      standards: standardsTags(this.code),
    };
  }
}

export type CredentialRejectionCode =
  | 'credential_invalid'
  | 'credential_expired'
  | 'replay_detected'
  | 'store_unavailable';

/** A downstream service refused a call credential (see `verifyCallCredential`). */
export class CredentialRejectedError extends TesseraError {
  static override code = 'credential_rejected';
  declare readonly code: CredentialRejectionCode;
  readonly reason: string;

  constructor(code: CredentialRejectionCode, reason: string, options?: { cause?: unknown }) {
    super(`Call credential rejected (${code}): ${reason}`, code, options);
    this.reason = reason;
  }
}

/** A capability or a grant request could not be accepted (verification or construction). */
export class CapabilityError extends TesseraError {
  static override code = 'capability_invalid';
  readonly reason: string;

  constructor(code: DenialCode | 'grant_invalid', reason: string, options?: { cause?: unknown }) {
    super(reason, code, options);
    this.reason = reason;
  }
}
