import type { AmqpError } from "rhea";

/**
 * An error in Event Hubs' own form, for the Event Hub-compatible endpoint. Event Hubs readers surface the
 * description as the error message, and Event Hubs words it as plain text ending in `TrackingId:…, Timestamp:…`
 * rather than IoT Hub's JSON text, so that is what is sent here (its `SystemTracker` names a namespace, which has no
 * counterpart here). The SDK decides what to do from the condition alone (service-protocol.md §5.7, §11.9).
 */
export function eventHubError(condition: string, message: string, trackingId: string, now: number): AmqpError {
  return {
    condition,
    description: `${message} TrackingId:${trackingId}, Timestamp:${new Date(now).toISOString()}`,
    info: { "com.microsoft:tracking-id": trackingId },
  } as AmqpError;
}
