import { FILE_NOTIFICATION_CONTENT_TYPE, renderFileNotification } from "../../hub/index.js";
import { lockedQueueLink } from "./locked-queue-sender.js";

/**
 * `/messages/serviceBound/filenotifications` (service-protocol.md §4.6): one message per completed upload, its body
 * the JSON object azure-iothub's e2e tests read (`deviceId`, `blobName`, `blobUri`, `blobSizeInBytes`, …).
 */
export const fileNotificationLink = lockedQueueLink((scope) => {
  const uploads = scope.hub.fileUploads;
  return {
    name: "fileNotifications",
    contentType: FILE_NOTIFICATION_CONTENT_TYPE,
    receive: async (ctx) => {
      const record = await uploads.receiveNotification(ctx);
      // receiveNotification always locks what it returns; a record without a token could never be settled.
      if (record === undefined || record.lockToken === null) return undefined;
      const body = Buffer.from(JSON.stringify(renderFileNotification(record)), "utf8");
      return { lockToken: record.lockToken, body, enqueuedTime: record.enqueuedTime, deliveryCount: record.deliveryCount };
    },
    settle: (ctx, lockToken, settlement) => uploads[`${settlement}Notification`](ctx, lockToken),
    onAvailable: (listener) => uploads.onNotificationAvailable(listener),
  };
});
