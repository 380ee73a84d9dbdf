/** The core's public surface: what gateways, the CLI and the composition root may import. */
export { createHub, type Hub, type HubDeps } from "./hub.js";
export type { CallContext, Caller, PolicyCaller, DeviceCaller } from "./call-context.js";
export { HubError, HUB_ERRORS, isHubError, isHubErrorName, type ErrorSpec, type HubErrorName } from "./errors/index.js";
export { RIGHTS, type Right, type SharedAccessPolicy } from "./auth/rights.js";
export { createSasToken } from "./auth/sas-token.js";
export { HubClock } from "./clock.js";
export type { Clock } from "./ports/clock.js";
export type { Ids } from "./ports/ids.js";
export type { Store, IdentityEntry, IdentityKey, IdentityRecord, TwinRecord, StoreWrite } from "./ports/store.js";
export type { QueryPage } from "./query/query-service.js";
export type { BulkResult } from "./registry/bulk.js";
