import type { C2dAck, C2dFeedbackStatus } from "../ports/c2d-store.js";
import type { HubErrorName } from "../errors/index.js";

/**
 * What the C2D queue reports, for the `C2DCommands` resource-log category and the `c2d.commands.egress.*` and
 * `C2DMessagesExpired` metrics (service-protocol.md §8). Meant to join the HubEvent union (`| C2dEvent`).
 * `messageId` is the service's message-id, or null when it gave none.
 */
export type C2dEvent =
  | { readonly type: "c2dSent"; readonly time: number; readonly deviceId: string; readonly messageId: string | null; readonly sizeInBytes: number; readonly ack: C2dAck; readonly expiryTime: number; readonly protocol: string }
  | { readonly type: "c2dDelivered"; readonly time: number; readonly deviceId: string; readonly messageId: string | null; readonly deliveryCount: number; readonly protocol: string }
  | { readonly type: "c2dSettled"; readonly time: number; readonly deviceId: string; readonly messageId: string | null; readonly outcome: "complete" | "reject" | "abandon"; readonly deliveryCount: number; readonly protocol: string }
  | { readonly type: "c2dLockExpired"; readonly time: number; readonly deviceId: string; readonly messageId: string | null; readonly deliveryCount: number }
  | { readonly type: "c2dDeadLettered"; readonly time: number; readonly deviceId: string; readonly messageId: string | null; readonly reason: "Expired" | "DeliveryCountExceeded"; readonly deliveryCount: number; readonly sizeInBytes?: number; readonly ack?: C2dAck; readonly enqueuedTime?: number; readonly expiryTime?: number }
  /** A send or settlement the queue refused (403004, 404001, 413001, 412002…): what `C2DCommands` logs. */
  | { readonly type: "c2dRefused"; readonly time: number; readonly deviceId: string; readonly messageId: string | null; readonly operation: "send" | "complete" | "abandon" | "reject"; readonly error: HubErrorName; readonly protocol: string; readonly ipAddress: string | undefined }
  | { readonly type: "c2dPurged"; readonly time: number; readonly deviceId: string; readonly count: number }
  | { readonly type: "c2dFeedbackQueued"; readonly time: number; readonly deviceId: string; readonly originalMessageId: string; readonly statusCode: C2dFeedbackStatus };

/** Where the queue sends its events: HubEvents once C2dEvent is part of HubEvent. */
export interface C2dEventSink {
  emit(event: C2dEvent): void;
}
