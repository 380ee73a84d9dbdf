import type { TwinRecord } from "../ports/store.js";
import { applyServiceTwinWrite, readServiceTwinWrite, type ServiceTwinWriteResult } from "./service-twin-write.js";

/**
 * Service PUT of a twin: replaces `tags` and `properties.desired` wholesale, leaving `reported` alone
 * (query-twins-jobs-routing.md §2.4). The notification lists removed desired keys as `null` (§2.8).
 */
export function replaceTwin(twin: TwinRecord, replacement: unknown, now: number): ServiceTwinWriteResult {
  return applyServiceTwinWrite(twin, readServiceTwinWrite(replacement, "replace"), now);
}
