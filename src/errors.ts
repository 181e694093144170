/**
 * Errors and denial codes: every error class Tessera throws on purpose lives here.
 *
 * Every denial carries a stable snake_case `code`, a reason a developer can act on, and the
 * standards it answers, so that "why was this denied?" never needs a debugger. Messages and
 * fields never contain a token, a credential or a secret.
 *
 * Recognise an error with `isTesseraError` / `isToolDeniedError` rather than `instanceof`: an
 * application can hold two copies of these classes (the ESM and the CommonJS build, or two
 * versions of the package), and `instanceof` fails across copies. Each class carries a brand
 * under `Symbol.for('tessera-guard.error')`, which every copy shares.
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
  | 'retrieval_limit_exceeded'
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
// A tool read more data than its grant allows: the data stays with the guard. MAESTRO's data
// layer and NIST's privacy measurement are the closest entries.
const DATA_EXPOSURE: StandardsTags = {
  owaspAgentic: 'ASI02 Tool Misuse and Exploitation',
  owaspThreats: ['T2 Tool Misuse'],
  maestro: 'L2 Data Operations',
  nist: ['MEASURE 2.10'],
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
  retrieval_limit_exceeded: DATA_EXPOSURE,
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
  const ours = isTesseraError(err);
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

/** Every `code` a Tessera error can carry. Stable: match on these, never on messages. */
export type TesseraErrorCode =
  | DenialCode
  | CredentialRejectionCode
  | 'grant_invalid'
  | 'policy_invalid'
  | 'spiffe_id_invalid'
  | 'store_full'
  | 'signer_unavailable'
  | 'approval_service_error'
  | OAuthErrorCode
  | AuthorityClientCode
  | 'tessera_error';

/** The OAuth errors the authority service answers with (RFC 6749, 8693, 9396, 9449, 6750). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'unsupported_grant_type'
  | 'invalid_authorization_details'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'access_denied'
  | 'invalid_client'
  | 'invalid_grant'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'slow_down'
  | 'not_found'
  | 'temporarily_unavailable'
  | 'server_error';

/** What the authority client reports when no conforming OAuth answer came back. */
export type AuthorityClientCode = 'authority_unreachable' | 'invalid_response';

// Symbol.for: one registry for every copy of the package (and every vm realm) in the process.
const ERROR_BRAND: unique symbol = Symbol.for('tessera-guard.error') as never;

/**
 * Base class of every error Tessera throws on purpose. Narrow a caught value with
 * `isTesseraError`, then `switch (err.code)` narrows to the class (see `AnyTesseraError`).
 */
export class TesseraError extends Error {
  static code: string = 'tessera_error';
  readonly code: TesseraErrorCode;
  /** What went wrong and what to change, without the class's prefix. Never a secret. */
  readonly reason: string;

  constructor(message: string, code?: TesseraErrorCode, options?: { cause?: unknown; reason?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: safeCause(options.cause) });
    this.name = new.target.name;
    this.code = code ?? ((new.target as typeof TesseraError).code as TesseraErrorCode);
    this.reason = options?.reason ?? message;
  }

  /** The class's kind, shared by every copy of the package; on the prototype, so never printed. */
  get [ERROR_BRAND](): string {
    return 'TesseraError';
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
    super(`Tool "${details.tool}" denied (${code}): ${reason}`, code, { reason });
    Error.stackTraceLimit = limit;
    this.tool = details.tool;
    this.callId = details.callId;
    this.capabilityId = details.capabilityId;
    this.intentId = details.intentId;
    this.policyIds = details.policyIds ?? [];
    this.standards = DENIAL_STANDARDS[code];
  }

  override get [ERROR_BRAND](): string {
    return 'ToolDeniedError';
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

  constructor(code: CredentialRejectionCode, reason: string, options?: { cause?: unknown }) {
    super(`Call credential rejected (${code}): ${reason}`, code, { ...options, reason });
  }

  override get [ERROR_BRAND](): string {
    return 'CredentialRejectedError';
  }
}

/** A capability or a grant request could not be accepted (verification or construction). */
export class CapabilityError extends TesseraError {
  static override code = 'capability_invalid';
  declare readonly code: DenialCode | 'grant_invalid';

  constructor(code: DenialCode | 'grant_invalid', reason: string, options?: { cause?: unknown }) {
    super(reason, code, options);
  }

  override get [ERROR_BRAND](): string {
    return 'CapabilityError';
  }
}

export type IdentityErrorCode = 'identity_invalid' | 'identity_mismatch' | 'identity_unavailable' | 'proof_invalid';

/** An identity token or proof was refused (`identity_invalid`, `proof_invalid`) or could not be checked (`identity_unavailable`). */
export class IdentityError extends TesseraError {
  static override code = 'identity_invalid';
  declare readonly code: IdentityErrorCode;

  constructor(code: IdentityErrorCode, reason: string, options?: { cause?: unknown }) {
    super(reason, code, options);
  }

  override get [ERROR_BRAND](): string {
    return 'IdentityError';
  }
}

export interface PolicyIssue {
  /** Where in the document, e.g. `rules[3].effect`, or a Cedar policy id. */
  readonly path: string;
  readonly message: string;
  /** 1-based line and column in the source text, when the issue can be placed. */
  readonly line?: number;
  readonly column?: number;
  /** Cedar's own help text, when it gave one. */
  readonly help?: string;
}

/**
 * A policy (rules file or Cedar policy set) that cannot be accepted. Thrown when an engine is
 * created, never on the call path: a guard with a broken policy must not start.
 */
export class InvalidPolicyError extends TesseraError {
  static override code = 'policy_invalid';
  declare readonly code: 'policy_invalid';
  /** The file or label the policy came from. */
  readonly source: string;
  readonly issues: readonly PolicyIssue[];

  constructor(source: string, issues: readonly PolicyIssue[]) {
    const lines = issues.slice(0, 10).map((i) => {
      const at = i.line === undefined ? source : `${source}:${i.line}:${i.column ?? 1}`;
      return `${at}: ${i.path === '' ? '' : `${i.path}: `}${i.message}${i.help ? ` (${i.help})` : ''}`;
    });
    const more = issues.length > 10 ? `\n… and ${issues.length - 10} more` : '';
    super(`Invalid policy in ${source}:\n${lines.join('\n')}${more}`);
    this.source = source;
    this.issues = issues;
  }

  override get [ERROR_BRAND](): string {
    return 'InvalidPolicyError';
  }
}

export type SpiffeIdRule =
  | 'empty'
  | 'too_long'
  | 'scheme'
  | 'trust_domain_missing'
  | 'trust_domain_too_long'
  | 'trust_domain_characters'
  | 'userinfo'
  | 'port'
  | 'query'
  | 'fragment'
  | 'percent_encoding'
  | 'path_empty_segment'
  | 'path_dot_segment'
  | 'path_trailing_slash'
  | 'path_characters';

const RULE_TEXT: Record<SpiffeIdRule, string> = {
  empty: 'a SPIFFE ID cannot be empty',
  too_long: 'a SPIFFE ID is at most 2048 bytes',
  scheme: 'a SPIFFE ID starts with "spiffe://" (lower-case scheme)',
  trust_domain_missing: 'the trust domain is missing',
  trust_domain_too_long: 'a trust domain is at most 255 bytes',
  trust_domain_characters: 'trust domain characters are limited to lower-case letters, digits, ".", "-" and "_"',
  userinfo: 'a SPIFFE ID cannot carry userinfo ("user@")',
  port: 'a SPIFFE ID cannot carry a port',
  query: 'a SPIFFE ID cannot carry a query ("?")',
  fragment: 'a SPIFFE ID cannot carry a fragment ("#")',
  percent_encoding: 'a SPIFFE ID cannot be percent-encoded',
  path_empty_segment: 'path segments cannot be empty ("//")',
  path_dot_segment: 'path segments cannot be "." or ".."',
  path_trailing_slash: 'the path cannot end with "/"',
  path_characters: 'path segment characters are limited to letters, digits, ".", "-" and "_"',
};

/** A string is not a valid SPIFFE ID (or trust domain); `rule` names the rule it broke. */
export class SpiffeIdError extends TesseraError {
  static override code = 'spiffe_id_invalid';
  declare readonly code: 'spiffe_id_invalid';
  readonly rule: SpiffeIdRule;

  constructor(rule: SpiffeIdRule) {
    super(`invalid SPIFFE ID (${rule}): ${RULE_TEXT[rule]}`);
    this.rule = rule;
  }

  override get [ERROR_BRAND](): string {
    return 'SpiffeIdError';
  }
}

/** The Redis store refused or could not answer; the guard denies the call with `store_unavailable`. */
export class RedisStoreError extends TesseraError {
  static override code = 'store_unavailable';
  declare readonly code: 'store_unavailable';

  // No `cause`: a client's error may quote connection details (a password in a URL). The raw
  // error goes to the store's `onError` hook instead. `reason` names the failure class:
  // timeout, not ready, connection lost, script error, unexpected reply or entry.
  constructor(reason: string) {
    super(reason, 'store_unavailable');
  }

  override get [ERROR_BRAND](): string {
    return 'RedisStoreError';
  }
}

/** The memory store holds `maxEntries` entries and refuses more; the guard denies the call with `store_unavailable`. */
export class StoreFullError extends TesseraError {
  static override code = 'store_full';
  declare readonly code: 'store_full';

  constructor(maxEntries: number) {
    super(`memory store is full (maxEntries ${maxEntries}); raise maxEntries or shorten credential and token lifetimes`);
  }

  override get [ERROR_BRAND](): string {
    return 'StoreFullError';
  }
}

/** The authority's capability signer did not answer in time, failed, or signed with another key. */
export class SignerError extends TesseraError {
  static override code = 'signer_unavailable';
  declare readonly code: 'signer_unavailable';

  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, 'signer_unavailable', options);
  }

  override get [ERROR_BRAND](): string {
    return 'SignerError';
  }
}

/**
 * An OAuth error the authority service answers with (RFC 6749 section 5.2, RFC 6750, RFC 9396,
 * RFC 9449): one code per failure and a description built only from our own words, never a
 * submitted token.
 */
export class OAuthError extends TesseraError {
  static override code = 'invalid_request';
  declare readonly code: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: OAuthErrorCode, description: string, headers: Record<string, string> = {}, options?: { cause?: unknown }) {
    super(`${code}: ${description}`, code, options);
    this.status = status;
    this.description = description;
    this.headers = headers;
  }

  override get [ERROR_BRAND](): string {
    return 'OAuthError';
  }
}

/**
 * What the authority answered when it refused a client's request, or why it could not be asked.
 * Built from the OAuth error body's `error` and `error_description` only: never the request's
 * tokens.
 */
export class AuthorityRequestError extends TesseraError {
  static override code = 'authority_unreachable';
  /** The OAuth `error` (`invalid_request`, `invalid_authorization_details`, ...) or an `AuthorityClientCode`. */
  declare readonly code: OAuthErrorCode | AuthorityClientCode;
  /** The authority's `error_description`, or what went wrong on the way there. */
  readonly description: string;
  /** The HTTP status, when the authority answered. */
  readonly status: number | undefined;
  /** Seconds to wait before asking again, from `Retry-After` on a rate-limited answer. */
  readonly retryAfterSec: number | undefined;

  constructor(code: OAuthErrorCode | AuthorityClientCode, description: string, details: { status?: number | undefined; retryAfterSec?: number | undefined } = {}) {
    super(`Authority request failed (${code}): ${description}`, code);
    this.description = description;
    this.status = details.status;
    this.retryAfterSec = details.retryAfterSec;
  }

  override get [ERROR_BRAND](): string {
    return 'AuthorityRequestError';
  }
}

/** The approvals service's store: Redis did not answer, or answered in a shape the store does not know. */
export class ApprovalsStoreError extends TesseraError {
  static override code = 'store_unavailable';
  declare readonly code: 'store_unavailable';

  override get [ERROR_BRAND](): string {
    return 'ApprovalsStoreError';
  }
}

/** The approvals service refused, failed or could not be reached. Never holds the identity token. */
export class ApprovalServiceError extends TesseraError {
  static override code = 'approval_service_error';
  declare readonly code: 'approval_service_error';
  readonly status: number | undefined;

  constructor(description: string, status?: number) {
    super(`Approval service: ${description}`);
    this.status = status;
  }

  override get [ERROR_BRAND](): string {
    return 'ApprovalServiceError';
  }
}

/** Every error class Tessera throws on purpose: `switch (err.code)` narrows to the class. */
export type AnyTesseraError =
  | ToolDeniedError
  | CapabilityError
  | CredentialRejectedError
  | IdentityError
  | InvalidPolicyError
  | SpiffeIdError
  | RedisStoreError
  | StoreFullError
  | SignerError
  | OAuthError
  | AuthorityRequestError
  | ApprovalsStoreError
  | ApprovalServiceError;

const DENIAL_CODE_SET: ReadonlySet<string> = new Set(DENIAL_CODES);

function brandOf(value: unknown): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  try {
    return (value as { [ERROR_BRAND]?: unknown })[ERROR_BRAND];
  } catch {
    // A hostile proxy or getter: not one of ours.
    return undefined;
  }
}

function fieldsAre(value: object, fields: Readonly<Record<string, 'string'>>): boolean {
  try {
    for (const [field, type] of Object.entries(fields)) if (typeof (value as Record<string, unknown>)[field] !== type) return false;
    return true;
  } catch {
    return false;
  }
}

const BASE_FIELDS = { code: 'string', reason: 'string', message: 'string', name: 'string' } as const;
const DENIAL_FIELDS = { ...BASE_FIELDS, tool: 'string', callId: 'string' } as const;

/**
 * True for an error any copy of Tessera threw on purpose (ESM or CommonJS build, another
 * version, another vm realm): it carries the brand and a string `code` and `reason`.
 */
export function isTesseraError(value: unknown): value is AnyTesseraError {
  return typeof brandOf(value) === 'string' && fieldsAre(value as object, BASE_FIELDS);
}

/** True for a denial from any copy of Tessera: the guard refused the call and the tool did not run. */
export function isToolDeniedError(value: unknown): value is ToolDeniedError {
  if (brandOf(value) !== 'ToolDeniedError' || !fieldsAre(value as object, DENIAL_FIELDS)) return false;
  try {
    return DENIAL_CODE_SET.has((value as { code: string }).code);
  } catch {
    return false;
  }
}
