/**
 * Span and metric names in one place. The GenAI attributes are still "Development" in the
 * OpenTelemetry semantic conventions, so they are our own constants rather than an import from
 * the incubating entry. Every attribute is described here so the schema document is generated
 * from this file and cannot drift.
 */

export const ATTR = {
  // OpenTelemetry GenAI semantic conventions (execute_tool span)
  OPERATION_NAME: 'gen_ai.operation.name',
  TOOL_NAME: 'gen_ai.tool.name',
  TOOL_CALL_ID: 'gen_ai.tool.call.id',
  TOOL_DESCRIPTION: 'gen_ai.tool.description',
  TOOL_TYPE: 'gen_ai.tool.type',
  TOOL_CALL_ARGUMENTS: 'gen_ai.tool.call.arguments',
  AGENT_ID: 'gen_ai.agent.id',
  ERROR_TYPE: 'error.type',
  // Tessera's own namespace: authorization decisions have no convention yet.
  DECISION: 'tessera.decision',
  DENIAL_CODE: 'tessera.denial.code',
  DENIAL_REASON: 'tessera.denial.reason',
  STANDARDS: 'tessera.standards',
  CAPABILITY_ID: 'tessera.capability.id',
  INTENT_ID: 'tessera.intent.id',
  CREDENTIAL_ID: 'tessera.credential.id',
  CREDENTIAL_TYPE: 'tessera.credential.type',
  RISK: 'tessera.risk',
  ARGS_HASH: 'tessera.args.sha256',
  IDENTITY_SOURCE: 'tessera.identity.source',
  POLICY_IDS: 'tessera.policy.ids',
  POLICY_EFFECT: 'tessera.policy.effect',
  APPROVAL_DECISION: 'tessera.approval.decision',
  APPROVAL_APPROVER: 'tessera.approval.approver',
  APPROVAL_WAIT_MS: 'tessera.approval.wait_ms',
  DELEGATION_DEPTH: 'tessera.delegation.depth',
  DELEGATION_CHAIN: 'tessera.delegation.chain',
  DELEGATION_ROOT_ID: 'tessera.delegation.root_id',
  GUARD_OVERHEAD_US: 'tessera.guard.overhead_us',
  CREDENTIAL_REVOKE_ERROR: 'tessera.credential.revoke_error',
  ENFORCED: 'tessera.enforced',
  EVIDENCE: 'tessera.evidence',
  // Set by the MCP adapter: the JSON-RPC id repeats across sessions, so it is not the call id.
  MCP_REQUEST_ID: 'mcp.request.id',
} as const;

export const EVENT = {
  SIDE_EFFECT: 'tessera.side_effect',
  SIDE_EFFECT_KIND: 'tessera.side_effect.kind',
  RETRIEVAL: 'tessera.retrieval',
  RETRIEVAL_SOURCE: 'tessera.retrieval.source',
  RETRIEVAL_RECORDS: 'tessera.retrieval.records',
  RETRIEVAL_BYTES: 'tessera.retrieval.bytes',
  RETRIEVAL_LABELS: 'tessera.retrieval.labels',
} as const;

export const METRIC = {
  DECISIONS: 'tessera.guard.decisions',
  OVERHEAD: 'tessera.guard.overhead',
  SHADOW_DENIALS: 'tessera.guard.shadow_denials',
} as const;

export const OPERATION_EXECUTE_TOOL = 'execute_tool';
export const spanName = (tool: string): string => `${OPERATION_EXECUTE_TOOL} ${tool}`;

export type AttributeType = 'string' | 'string[]' | 'int' | 'double' | 'boolean';
export type Cardinality = 'low' | 'medium' | 'high';

export interface AttributeSpec {
  readonly key: string;
  readonly type: AttributeType;
  readonly when: string;
  readonly cardinality: Cardinality;
  readonly description: string;
}

/** The span schema: every attribute a Tessera span may carry. */
export const SPAN_ATTRIBUTES: readonly AttributeSpec[] = [
  { key: ATTR.OPERATION_NAME, type: 'string', when: 'always', cardinality: 'low', description: 'Always `execute_tool`.' },
  { key: ATTR.TOOL_NAME, type: 'string', when: 'always', cardinality: 'low', description: 'The tool name.' },
  { key: ATTR.TOOL_CALL_ID, type: 'string', when: 'always', cardinality: 'high', description: "The framework's tool-call id, or one the guard generated." },
  { key: ATTR.MCP_REQUEST_ID, type: 'string', when: 'calls served by the MCP adapter', cardinality: 'high', description: 'The JSON-RPC request id (unique only within its MCP session).' },
  { key: ATTR.TOOL_DESCRIPTION, type: 'string', when: 'always', cardinality: 'low', description: "The tool's description." },
  { key: ATTR.TOOL_TYPE, type: 'string', when: 'always', cardinality: 'low', description: '`function`, `extension` or `datastore`.' },
  { key: ATTR.TOOL_CALL_ARGUMENTS, type: 'string', when: 'only with `telemetry.recordArguments: true`', cardinality: 'high', description: 'Raw arguments as JSON. Sensitive: off by default.' },
  { key: ATTR.AGENT_ID, type: 'string', when: 'once the capability verified', cardinality: 'medium', description: "The agent's workload identity (the capability's subject)." },
  { key: ATTR.ERROR_TYPE, type: 'string', when: 'when the guard failed or the tool threw', cardinality: 'low', description: "The denial code when a dependency of the guard failed, or the thrown error's class name; never on an ordinary denial." },
  { key: ATTR.DECISION, type: 'string', when: 'always', cardinality: 'low', description: '`allow`, `deny`, or `error` (allowed, but the tool threw).' },
  { key: ATTR.DENIAL_CODE, type: 'string', when: 'on denial', cardinality: 'low', description: 'The stable denial code.' },
  { key: ATTR.DENIAL_REASON, type: 'string', when: 'on denial', cardinality: 'medium', description: 'Why, in words; never a secret.' },
  { key: ATTR.STANDARDS, type: 'string[]', when: 'on denial', cardinality: 'low', description: 'OWASP ASI, OWASP threat, MAESTRO and NIST AI RMF ids the denial answers.' },
  { key: ATTR.CAPABILITY_ID, type: 'string', when: 'once the capability verified', cardinality: 'high', description: "The capability's `jti`." },
  { key: ATTR.INTENT_ID, type: 'string', when: 'once the capability verified', cardinality: 'medium', description: "The intent's id." },
  { key: ATTR.CREDENTIAL_ID, type: 'string', when: 'when a credential was minted', cardinality: 'high', description: "The call credential's id (never the credential)." },
  { key: ATTR.CREDENTIAL_TYPE, type: 'string', when: 'when a credential was minted', cardinality: 'low', description: 'The credential kind.' },
  { key: ATTR.RISK, type: 'string', when: 'always', cardinality: 'low', description: "The tool's risk tier." },
  { key: ATTR.ARGS_HASH, type: 'string', when: 'once the arguments parsed', cardinality: 'high', description: 'base64url SHA-256 of the canonical JSON of the parsed arguments.' },
  { key: ATTR.IDENTITY_SOURCE, type: 'string', when: 'once the identity is bound', cardinality: 'low', description: 'How the identity was proven: `jwt-svid`, `oidc` or `asserted`.' },
  { key: ATTR.POLICY_IDS, type: 'string[]', when: 'when a policy engine decided', cardinality: 'medium', description: 'Ids of the policies that decided.' },
  { key: ATTR.POLICY_EFFECT, type: 'string', when: 'when policy engines ran', cardinality: 'low', description: '`allow`, `deny` or `require_approval`.' },
  { key: ATTR.APPROVAL_DECISION, type: 'string', when: 'when approval was asked', cardinality: 'low', description: '`approved`, `denied`, `timeout`, `error` (the approver failed), `mismatch` (the approval named another call) or `replayed` (the approval id was already used).' },
  { key: ATTR.APPROVAL_APPROVER, type: 'string', when: 'when an approver answered', cardinality: 'medium', description: 'Who answered.' },
  { key: ATTR.APPROVAL_WAIT_MS, type: 'double', when: 'when approval was asked', cardinality: 'high', description: 'How long the call waited for the answer.' },
  { key: ATTR.DELEGATION_DEPTH, type: 'int', when: 'once the capability verified', cardinality: 'low', description: '0 for a capability granted by the authority, n for the nth delegation.' },
  { key: ATTR.DELEGATION_CHAIN, type: 'string[]', when: 'for a delegated capability', cardinality: 'medium', description: 'Agent ids from the root grant to this one.' },
  { key: ATTR.DELEGATION_ROOT_ID, type: 'string', when: 'for a delegated capability', cardinality: 'high', description: "The root capability's `jti`." },
  { key: ATTR.GUARD_OVERHEAD_US, type: 'double', when: 'always', cardinality: 'high', description: "Time the guard added, in microseconds (excludes the tool's own run)." },
  { key: ATTR.CREDENTIAL_REVOKE_ERROR, type: 'string', when: 'when revoking the credential failed', cardinality: 'low', description: "The revoke error's class name." },
  { key: ATTR.ENFORCED, type: 'boolean', when: 'calls of a tool in shadow mode (absent in enforce mode)', cardinality: 'low', description: 'Always `false`: the decision was recorded and the tool ran anyway (a few denials are kept even in shadow mode; see docs/shadow-mode.md).' },
  { key: ATTR.EVIDENCE, type: 'string', when: 'with the evidence opt-in, once the capability verified and the arguments parsed', cardinality: 'high', description: 'JSON `{"v":1,"purpose","args"}`: the shape of each top-level argument (URL scheme and host, email domain, path directory, number, length and salted hash), never a raw string.' },
];

export interface MetricSpec {
  readonly name: string;
  readonly instrument: 'counter' | 'histogram';
  readonly unit: string;
  readonly attributes: readonly string[];
  readonly description: string;
}

export const METRICS: readonly MetricSpec[] = [
  {
    name: METRIC.DECISIONS,
    instrument: 'counter',
    unit: '{call}',
    attributes: [ATTR.DECISION, ATTR.DENIAL_CODE, ATTR.TOOL_NAME],
    description: 'Guarded calls by outcome and denial code.',
  },
  {
    name: METRIC.OVERHEAD,
    instrument: 'histogram',
    unit: 's',
    attributes: [ATTR.DECISION, ATTR.TOOL_NAME],
    description: "Time the guard added to a call, excluding the tool's own run.",
  },
  {
    name: METRIC.SHADOW_DENIALS,
    instrument: 'counter',
    unit: '{call}',
    attributes: [ATTR.DENIAL_CODE, ATTR.TOOL_NAME],
    description: 'Calls of shadow-mode tools that enforce mode would have denied, and that ran anyway.',
  },
];
