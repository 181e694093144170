/**
 * `tessera-guard/approvals-server`: the approvals service. Needs the optional peer `hono` (and
 * `@hono/node-server` to run it standalone).
 */
export { createApprovalsServer, MAX_WAIT_MS, type ApprovalsServer, type ApprovalsServerOptions } from './server.js';
export { decide, MAX_REASON_LENGTH, type DecideDenialCode, type DecideInput, type DecideResult } from './decide.js';
export {
  APPROVAL_RETENTION_MS,
  createMemoryApprovalsStore,
  type ApprovalDecision,
  type ApprovalRecord,
  type ApprovalsStore,
  type MemoryApprovalsStoreOptions,
  type StoreDecideResult,
  type StoredApproval,
} from './store.js';
export { ApprovalsStoreError, createRedisApprovalsStore, type RedisApprovalsStoreOptions } from './redis-store.js';
export {
  notificationBody,
  SIGNATURE_HEADER,
  signWebhook,
  slackText,
  verifyWebhookSignature,
  type ApprovalWebhook,
  type WebhookDelivery,
} from './webhooks.js';
export { createApprovalsInbox, type ApprovalsInbox, type ApprovalsInboxOptions } from './inbox.js';
