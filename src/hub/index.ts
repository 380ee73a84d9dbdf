/** The core's public surface: what gateways, the CLI and the composition root may import. */
export { createHub, TRUSTED_CAS_SETTING, type Hub, type HubDeps } from "./hub.js";
export type { CallContext, Caller, ClientInfo, PolicyCaller, DeviceCaller } from "./call-context.js";
export { requireAllRights } from "./admin/clock-admin.js";
export {
  FAULT_OPERATIONS,
  FAULT_PROTOCOLS,
  FAULT_PROPERTIES,
  MESSAGE_FAULT_TYPES,
  TRANSPORT_FAULTS,
  isDropFault,
  type FaultRules,
  type FaultRule,
  type FaultOperation,
} from "./faults/index.js";
export { HubError, HUB_ERRORS, isHubError, isHubErrorName, type ErrorSpec, type HubErrorName } from "./errors/index.js";
export { RIGHTS, type Right, type SharedAccessPolicy } from "./auth/rights.js";
export { createSasToken } from "./auth/sas-token.js";
export { HubClock } from "./clock.js";
export type { Clock } from "./ports/clock.js";
export type { Ids } from "./ports/ids.js";
export type { Store, IdentityEntry, IdentityKey, IdentityRecord, IdentityBookkeeping, TwinRecord, StoreWrite } from "./ports/store.js";
export type { QueryPage } from "./query/query-service.js";
export type { BulkResult } from "./registry/bulk.js";
export type { DeviceLink, DeviceLinkRole, DeviceSubscription } from "./ports/device-link.js";
export type { C2dStore, C2dMessage, C2dAck, C2dFeedbackRecord, C2dFeedbackStatus, C2dSystemProperties } from "./ports/c2d-store.js";
export type { C2dQueue, C2dSendInput, C2dSendSystemProperties, C2dPurgeResult, C2dSettings, C2dEvent } from "./c2d/index.js";
export { FEEDBACK_CONTENT_TYPE, renderFeedbackBody, type C2dFeedback, type C2dFeedbackBatch, type C2dFeedbackSettings } from "./c2d/index.js";
export type { EventHubAuth, EventHubAuthResult } from "./auth/event-hub-auth.js";
export type { BlobStorage, BlobUploadGrant, BlobInfo } from "./ports/blob-storage.js";
export type { FileUploadStore, FileUploadRecord, FileNotificationRecord } from "./ports/file-upload-store.js";
export {
  FILE_NOTIFICATION_CONTENT_TYPE,
  renderFileNotification,
  type FileUploads,
  type FileUploadSasUri,
  type FileUploadSettings,
  type FileNotificationBody,
  type FileUploadEvent,
} from "./file-upload/index.js";
export type { TelemetryLog, TelemetryRecord, TelemetryAppend, PartitionInfo } from "./ports/telemetry-log.js";
export type { DeviceConnection, ConnectInfo } from "./presence/presence.js";
export type { MethodResult } from "./methods/methods.js";
export type { DeviceMessage, TelemetryCredential } from "./telemetry/telemetry.js";
export type { HubEvent, HubEventListener } from "./events/hub-event.js";
export type { TimerHandle } from "./timers/hub-timers.js";
export { DailyMessageCounter, quotaBlocks, QUOTA_BLOCK_BYTES } from "./limits/daily-message-counter.js";
export { LIMIT_NAMES, THROTTLED_OPERATIONS, TIER_NAMES, resolveLimits, type HubLimits, type LimitedOperation, type LimitName, type LimitValues, type LimitsInput, type ResolvedLimits, type TierName } from "./limits/index.js";
export type { DeviceAuthResult } from "./auth/device-auth.js";
export { renderConnectionAuthMethod } from "./auth/device-auth-method.js";
export {
  OFFSET_STRIDE,
  offsetOf,
  parseEventPosition,
  DEFAULT_CONSUMER_GROUP,
  MAX_NON_EPOCH_RECEIVERS,
  type EventHubEndpoint,
  type EventHubProperties,
  type PartitionProperties,
  type OpenReaderInput,
  type ReceiverClaim,
  type ConsumerGroups,
  type PartitionReader,
  type EventPosition,
} from "./event-hub/index.js";
