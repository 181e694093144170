/**
 * `tessera-guard/approvers`: ready-made approvers for the guard's `approver` option — a terminal
 * prompt for a person at a console, and a scripted approver for CI — and the helpers an approver
 * of your own needs to describe a request safely.
 */
export { bindingOf, previewArguments } from './approval.js';
export { createScriptedApprover } from './scripted-approver.js';
export type { ScriptedApprover, ScriptedApproverOptions, ScriptedStep } from './scripted-approver.js';
export { createTerminalApprover, describeApprovalRequest } from './terminal-approver.js';
export type { TerminalApproverOptions } from './terminal-approver.js';
