import type { HubErrorName } from "../errors/index.js";

/**
 * What file upload reports, for the `FileUploadOperations` resource-log category (operation `ingress`: deviceId,
 * protocol, blobUri) and the `d2c.files.*`-style metrics (service-protocol.md §8). Part of the HubEvent union.
 */
export type FileUploadEvent =
  /** `POST /devices/{id}/files` handed out a SAS URI. */
  | { readonly type: "fileUploadStarted"; readonly time: number; readonly deviceId: string; readonly correlationId: string; readonly blobName: string; readonly blobUri: string; readonly expiryTime: number; readonly protocol: string }
  /** A request for a SAS URI was refused: the device already has the most uploads open (403006), or by a fault rule (`error`). */
  | { readonly type: "fileUploadRefused"; readonly time: number; readonly deviceId: string; readonly blobName: string; readonly activeUploads: number; readonly protocol: string; readonly error?: HubErrorName }
  /** The device notified the outcome of an upload; `notified` says whether a file notification was queued. */
  | { readonly type: "fileUploadCompleted"; readonly time: number; readonly deviceId: string; readonly correlationId: string; readonly blobName: string; readonly blobUri: string; readonly isSuccess: boolean; readonly statusCode: number | null; readonly statusDescription: string | null; readonly notified: boolean; readonly protocol: string }
  /** An upload was never notified before its SAS TTL passed: its slot is free again. */
  | { readonly type: "fileUploadExpired"; readonly time: number; readonly deviceId: string; readonly correlationId: string; readonly blobName: string }
  | { readonly type: "fileNotificationQueued"; readonly time: number; readonly deviceId: string; readonly blobName: string; readonly blobSizeInBytes: number; readonly sequenceNumber: number }
  | { readonly type: "fileNotificationDelivered"; readonly time: number; readonly deviceId: string; readonly blobName: string; readonly sequenceNumber: number; readonly deliveryCount: number; readonly protocol: string }
  | { readonly type: "fileNotificationSettled"; readonly time: number; readonly deviceId: string; readonly blobName: string; readonly sequenceNumber: number; readonly outcome: "complete" | "abandon" | "reject"; readonly protocol: string }
  /** A notification left the queue undelivered: its TTL passed, it was abandoned too often, or it was rejected. */
  | { readonly type: "fileNotificationDeadLettered"; readonly time: number; readonly deviceId: string; readonly blobName: string; readonly sequenceNumber: number; readonly reason: "Expired" | "DeliveryCountExceeded" | "Rejected"; readonly deliveryCount: number };

export interface FileUploadEventSink {
  emit(event: FileUploadEvent): void;
}
