import { HubError } from "../errors/index.js";
import type { IdentityKey } from "../ports/store.js";

/** 404001 DeviceNotFound for a device, 404010 ModuleNotFound for a module, naming the identity. */
export function identityNotFound(key: IdentityKey, trackingId: string): HubError {
  return key.moduleId === ""
    ? new HubError("DeviceNotFound", { trackingId, message: `Device '${key.deviceId}' does not exist` })
    : new HubError("ModuleNotFound", { trackingId, message: `Module '${key.moduleId}' does not exist on device '${key.deviceId}'` });
}
