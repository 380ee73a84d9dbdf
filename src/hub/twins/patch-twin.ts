import type { TwinRecord } from "../ports/store.js";
import { applyServiceTwinWrite, readServiceTwinWrite, type ServiceTwinWriteResult } from "./service-twin-write.js";

/**
 * Service PATCH of a twin: deep-merges `tags` and `properties.desired` (query-twins-jobs-routing.md §2.4, §2.5).
 * Validates the whole body first and returns a new record (the input is untouched) plus the desired notification
 * for a connected device, or `undefined` when desired was not written.
 */
export function patchTwin(twin: TwinRecord, patch: unknown, now: number): ServiceTwinWriteResult {
  return applyServiceTwinWrite(twin, readServiceTwinWrite(patch, "merge"), now);
}
