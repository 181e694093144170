/**
 * `tessera-guard/testing`: a test authority, span capture, a controllable clock, vitest matchers and a
 * scenario runner for CI suites that must prove what an agent can and cannot do.
 *
 * Importing this entry registers the matchers with vitest's `expect`.
 *
 * ESM only: vitest itself is ESM only, so this entry has no `require` export. From CommonJS,
 * use `await import('tessera-guard/testing')`.
 */
import { installMatchers } from './matchers.js';

export { createManualClock, DEFAULT_TEST_TIME } from './clock.js';
export type { ManualClock } from './clock.js';
export { createSpanCapture, summarizeSpan } from './span-capture.js';
export type { SpanCapture, SpanSummary } from './span-capture.js';
export { expectSpan } from './expect-span.js';
export { checkLeastPrivilege, expectLeastPrivilege } from './expect-least-privilege.js';
export type { LeastPrivilegeGrant, LeastPrivilegeOptions, LeastPrivilegeResult } from './expect-least-privilege.js';
export type { SpanExpectation, SpanSource } from './expect-span.js';
export { createTestAuthority } from './test-authority.js';
export type { TestAuthority, TestAuthorityOptions, TestGrant } from './test-authority.js';
export { installMatchers, isDenial, settleCall, tesseraMatchers } from './matchers.js';
export type { CallOutcome } from './matchers.js';
export { allow, deny, renderScenarioTable, runScenario, ScenarioMismatchError } from './scenario.js';
export { describeStoreContract } from './store-contract.js';
export type { StoreContractOptions, StoreContractSubject } from './store-contract.js';
export type { Scenario, ScenarioCase, ScenarioResult, ScenarioRow } from './scenario.js';

installMatchers();
