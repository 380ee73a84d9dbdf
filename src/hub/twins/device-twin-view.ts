import type { TwinRecord } from "../ports/store.js";
import { propertyValuesView } from "./property-section.js";

/**
 * What a device gets from a full twin GET (MQTT `$iothub/twin/GET`, AMQP GET): desired and reported with their
 * values and `$version` but no `$metadata`, and never tags (query-twins-jobs-routing.md §2.2, §2.7).
 */
export function deviceTwinView(twin: TwinRecord): { desired: Record<string, unknown>; reported: Record<string, unknown> } {
  return { desired: propertyValuesView(twin.desired), reported: propertyValuesView(twin.reported) };
}
