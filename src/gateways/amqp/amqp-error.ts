import type { AmqpError } from "rhea";
import rhea from "rhea";
import { HubError, isHubError, type HubErrorName } from "../../hub/index.js";

/**
 * IoT Hub's AMQP error: the catalog's condition, and as description the JSON text real hubs send
 * (`{"errorCode":401002,"trackingId":…,"message":…,"timestampUtc":…}`, edgehub-server-notes.md §2.3–2.4), with the
 * tracking id and numeric code also in `info`, where the .NET SDK reads them (service-protocol.md §4.4).
 */
export function toAmqpError(error: HubError, trackingId: string, now: number): AmqpError {
  const id = error.trackingId ?? trackingId;
  return {
    condition: error.spec.amqpCondition,
    description: JSON.stringify({ errorCode: error.code, trackingId: id, message: error.message, timestampUtc: new Date(now).toISOString(), info: error.info ?? null }),
    info: { "com.microsoft:tracking-id": id, "com.microsoft:error-code": rhea.types.wrap_int(error.code) },
  } as AmqpError;
}

/** The HubError an operation failed with; anything else is an internal error (500001), the hub keeps running. */
export function asHubError(error: unknown, fallback: HubErrorName = "ServerError"): HubError {
  return isHubError(error) ? error : new HubError(fallback, { cause: error });
}
