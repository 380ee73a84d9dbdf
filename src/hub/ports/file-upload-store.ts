/**
 * The durable state of file upload: the uploads devices have open (correlation ids handed out by
 * `POST /devices/{id}/files` and not yet notified or expired), and the file notifications waiting for the service's
 * `/messages/serviceBound/filenotifications` receiver. Adapters (memory, SQLite) pass the conformance suite in
 * `test/conformance/file-upload-store.suite.ts`. Stores hold plain records and never throw IoT Hub errors: the core
 * (`hub/file-upload/file-uploads.ts`) decides limits, expiry, locks and delivery counts.
 *
 * Every write resolves only once it is durable, and each call is atomic. Records handed in are copied, records handed
 * out are copies.
 */

/** One open upload. */
export interface FileUploadRecord {
  /** Hub-assigned, unique in the hub. */
  readonly correlationId: string;
  readonly deviceId: string;
  /** The full blob name, `{deviceId}/{name the device asked for}`. */
  readonly blobName: string;
  /** The blob's URL without SAS, for the notification. */
  readonly blobUri: string;
  /** Hub time (ms since epoch) the upload was opened. */
  readonly createdTime: number;
  /** Hub time (ms since epoch) the correlation expires (the SAS TTL after createdTime). */
  readonly expiryTime: number;
}

/** One file notification (service-protocol.md §4.6), waiting for the service's receiver. */
export interface FileNotificationRecord {
  /** Assigned by the store: 1, 2, 3… hub-wide, never reused (also not after a delete or a restart). */
  readonly sequenceNumber: number;
  readonly deviceId: string;
  readonly blobName: string;
  readonly blobUri: string;
  /** The blob's Last-Modified (ms since epoch). */
  readonly lastUpdatedTime: number;
  readonly blobSizeInBytes: number;
  /** Hub time (ms since epoch) the notification was queued. */
  readonly enqueuedTime: number;
  /** Hub time (ms since epoch) the notification expires (the queue's TTL). */
  readonly expiryTime: number;
  /** How many times it has been handed to a receiver. */
  readonly deliveryCount: number;
  /** Set while a receiver holds it (locked), null while it is available. */
  readonly lockToken: string | null;
  /** Hub time the lock ends; null when not locked. */
  readonly lockedUntil: number | null;
}

export type FileNotificationAppend = Omit<FileNotificationRecord, "sequenceNumber" | "deliveryCount" | "lockToken" | "lockedUntil">;

export interface FileNotificationDelivery {
  readonly deliveryCount: number;
  readonly lockToken: string | null;
  readonly lockedUntil: number | null;
}

export interface FileUploadCloseResult {
  /** False when the upload was not there (already closed, expired or never opened): nothing was written. */
  readonly closed: boolean;
  /** The notification appended with the close, if one was asked for and the upload was there. */
  readonly notification: FileNotificationRecord | undefined;
}

export interface FileUploadStore {
  /** Records an open upload; refuses (RangeError) a correlation id that is already open. */
  addUpload(upload: FileUploadRecord): Promise<void>;
  /** The open uploads of one device, or of every device without an argument, oldest first. */
  uploads(deviceId?: string): Promise<FileUploadRecord[]>;
  getUpload(correlationId: string): Promise<FileUploadRecord | undefined>;
  /**
   * Closes an upload and, in the same atomic write, appends its notification: a notified upload and its
   * notification are never seen one without the other, and a second close of the same upload appends nothing.
   */
  closeUpload(correlationId: string, notification?: FileNotificationAppend): Promise<FileUploadCloseResult>;
  /** Removes open uploads (expired); returns the correlation ids that were there. */
  removeUploads(correlationIds: readonly string[]): Promise<string[]>;
  /** Drops every open upload of a device (it was deleted); returns how many. Its queued notifications stay. */
  deleteDeviceUploads(deviceId: string): Promise<number>;
  /** Every queued notification, locked or not, expired or not, in sequence order. */
  notifications(): Promise<FileNotificationRecord[]>;
  /**
   * Sets the delivery state of a notification if its current lock token is `expectedLockToken` (compare-and-set).
   * Returns the updated record, or undefined when it is gone or was not as expected.
   */
  setNotificationDelivery(sequenceNumber: number, expectedLockToken: string | null, delivery: FileNotificationDelivery): Promise<FileNotificationRecord | undefined>;
  /** Deletes notifications (delivered, expired, dead-lettered); returns the sequence numbers that were there. */
  removeNotifications(sequenceNumbers: readonly number[]): Promise<number[]>;
  close(): Promise<void>;
}

/*
 * Checks shared by every adapter, so they accept and refuse the same input. A refused call throws a TypeError or
 * RangeError naming what was wrong, and nothing of it is written.
 */

export function checkFileUpload(upload: FileUploadRecord): void {
  if (typeof upload !== "object" || upload === null) throw new TypeError("file upload: the record is not an object");
  checkString(upload.correlationId, "file upload: correlationId", true);
  checkString(upload.deviceId, "file upload: deviceId", true);
  checkString(upload.blobName, "file upload: blobName", true);
  checkString(upload.blobUri, "file upload: blobUri", true);
  checkTime(upload.createdTime, "file upload: createdTime");
  checkTime(upload.expiryTime, "file upload: expiryTime");
}

export function checkFileNotification(notification: FileNotificationAppend): void {
  if (typeof notification !== "object" || notification === null) throw new TypeError("file notification: the record is not an object");
  checkString(notification.deviceId, "file notification: deviceId", true);
  checkString(notification.blobName, "file notification: blobName", true);
  checkString(notification.blobUri, "file notification: blobUri", true);
  checkTime(notification.lastUpdatedTime, "file notification: lastUpdatedTime");
  if (!Number.isSafeInteger(notification.blobSizeInBytes) || notification.blobSizeInBytes < 0) {
    throw new RangeError("file notification: blobSizeInBytes must be a non-negative integer");
  }
  checkTime(notification.enqueuedTime, "file notification: enqueuedTime");
  checkTime(notification.expiryTime, "file notification: expiryTime");
}

export function checkFileNotificationDelivery(sequenceNumber: number, expectedLockToken: string | null, delivery: FileNotificationDelivery): void {
  if (!Number.isSafeInteger(sequenceNumber)) throw new RangeError("file notification delivery: sequenceNumber must be an integer");
  if (expectedLockToken !== null) checkString(expectedLockToken, "file notification delivery: expectedLockToken", true);
  if (typeof delivery !== "object" || delivery === null) throw new TypeError("file notification delivery: delivery is not an object");
  if (!Number.isSafeInteger(delivery.deliveryCount) || delivery.deliveryCount < 0) {
    throw new RangeError("file notification delivery: deliveryCount must be a non-negative integer");
  }
  if ((delivery.lockToken === null) !== (delivery.lockedUntil === null)) {
    throw new TypeError("file notification delivery: lockToken and lockedUntil are both set or both null");
  }
  if (delivery.lockToken !== null) checkString(delivery.lockToken, "file notification delivery: lockToken", true);
  if (delivery.lockedUntil !== null) checkTime(delivery.lockedUntil, "file notification delivery: lockedUntil");
}

export function checkStrings(values: readonly string[], what: string): void {
  if (!Array.isArray(values)) throw new TypeError(`${what} expects an array of strings`);
  for (const value of values) checkString(value, what, true);
}

export function checkSequenceNumbers(values: readonly number[], what: string): void {
  if (!Array.isArray(values)) throw new TypeError(`${what} expects an array of sequence numbers`);
  for (const value of values) {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${what}: sequence numbers must be integers`);
  }
}

export function checkString(value: unknown, what: string, nonEmpty: boolean): void {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string`);
  if (nonEmpty && value === "") throw new RangeError(`${what} must not be empty`);
}

function checkTime(value: unknown, what: string): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new RangeError(`${what} must be an integer (ms since epoch)`);
}
