/** The advisor: least-privilege grants and over-grant reports from recorded evidence. */
export { createAdvisor, describeUse } from './advisor.js';
export type { Advice, AdviseOptions, Advisor, AdvisedToolGrant, ArgUse, GrantSpec, GroupAdvice, RetrievalBound, RetrievalUse, ToolUse } from './advisor.js';
export { observeOtlpSpan, observeReadableSpan, observeSpan, parseEvidence } from './observed-call.js';
export type { Evidence, ObservedCall, ReadableSpanLike, Retrieval, Shape, SpanView } from './observed-call.js';
export { adviceJson, overGrant, renderAdviceText } from './render.js';
