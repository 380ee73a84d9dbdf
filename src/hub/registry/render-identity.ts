import type { IdentityRecord } from "../ports/store.js";
import { identityEtag } from "./etag.js";

/** Device JSON in the key order IoT Hub emits (service-protocol §3.4). */
export function renderDevice(r: IdentityRecord): Record<string, unknown> {
  return {
    deviceId: r.deviceId,
    generationId: r.generationId,
    etag: identityEtag(r.etagVersion),
    connectionState: r.connectionState,
    status: r.status,
    statusReason: r.statusReason,
    connectionStateUpdatedTime: r.connectionStateUpdatedTime,
    statusUpdatedTime: r.statusUpdatedTime,
    lastActivityTime: r.lastActivityTime,
    cloudToDeviceMessageCount: r.cloudToDeviceMessageCount,
    authentication: r.authentication,
    capabilities: r.capabilities,
    deviceScope: r.deviceScope,
    parentScopes: r.parentScopes,
  };
}

/** Module JSON in the key order IoT Hub emits. */
export function renderModule(r: IdentityRecord): Record<string, unknown> {
  return {
    moduleId: r.moduleId,
    managedBy: r.managedBy,
    deviceId: r.deviceId,
    generationId: r.generationId,
    etag: identityEtag(r.etagVersion),
    connectionState: r.connectionState,
    connectionStateUpdatedTime: r.connectionStateUpdatedTime,
    lastActivityTime: r.lastActivityTime,
    cloudToDeviceMessageCount: r.cloudToDeviceMessageCount,
    authentication: r.authentication,
  };
}

export function renderIdentity(r: IdentityRecord): Record<string, unknown> {
  return r.moduleId === "" ? renderDevice(r) : renderModule(r);
}
