/**
 * `tessera-guard/decision-log`: every decision in an append-only Merkle log (RFC 9162) with signed
 * tree heads; file and OpenTelemetry-logs sinks; offline verification and proofs.
 */
export { createDecisionLog } from './log.js';
export type { DecisionLog, DecisionLogOptions, DecisionLogSink, SinkFailureMode } from './log.js';
export { createFileSink, type FileSinkOptions } from './file-sink.js';
export { createOtlpLogSink, DECISION_LOG_EVENT, type OtlpLogSinkOptions } from './otlp-sink.js';
export { treeHeadVerifier, TreeHeadError, type SignedTreeHead, type TreeHead, type TreeHeadVerifier } from './tree-head.js';
export {
  proveCall,
  proveConsistency,
  ProofUnavailableError,
  verifyDecisionLog,
  TAMPERING,
  type ConsistencyProof,
  type Finding,
  type FindingKind,
  type InclusionProof,
  type LogSegment,
  type LogVerification,
  type VerifyLogOptions,
} from './verify.js';
export { readDecisionLogFiles, type LogFiles } from './files.js';
export { leafHash, nodeHash, verifyConsistency, verifyInclusion } from './merkle.js';
