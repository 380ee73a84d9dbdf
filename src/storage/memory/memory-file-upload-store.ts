import {
  checkFileNotification,
  checkFileNotificationDelivery,
  checkFileUpload,
  checkSequenceNumbers,
  checkString,
  checkStrings,
  type FileNotificationAppend,
  type FileNotificationDelivery,
  type FileNotificationRecord,
  type FileUploadCloseResult,
  type FileUploadRecord,
  type FileUploadStore,
} from "../../hub/ports/file-upload-store.js";

/**
 * A FileUploadStore in process memory, for unit tests and `storage: "memory"`. It validates and copies exactly as the
 * SQLite store does.
 */
export class MemoryFileUploadStore implements FileUploadStore {
  /** In insertion order, which is creation order. */
  private readonly open = new Map<string, FileUploadRecord>();
  /** In sequence order. */
  private queued: FileNotificationRecord[] = [];
  private lastSequenceNumber = 0;
  private closed = false;

  async addUpload(upload: FileUploadRecord): Promise<void> {
    this.assertOpen();
    checkFileUpload(upload);
    if (this.open.has(upload.correlationId)) throw new RangeError(`file upload: correlation id ${JSON.stringify(upload.correlationId)} is already open`);
    this.open.set(upload.correlationId, { ...upload });
  }

  async uploads(deviceId?: string): Promise<FileUploadRecord[]> {
    this.assertOpen();
    if (deviceId !== undefined) checkString(deviceId, "file uploads: deviceId", true);
    return [...this.open.values()].filter((u) => deviceId === undefined || u.deviceId === deviceId).map((u) => ({ ...u }));
  }

  async getUpload(correlationId: string): Promise<FileUploadRecord | undefined> {
    this.assertOpen();
    checkString(correlationId, "file upload: correlationId", false);
    const upload = this.open.get(correlationId);
    return upload === undefined ? undefined : { ...upload };
  }

  async closeUpload(correlationId: string, notification?: FileNotificationAppend): Promise<FileUploadCloseResult> {
    this.assertOpen();
    checkString(correlationId, "file upload close: correlationId", false);
    if (notification !== undefined) checkFileNotification(notification);
    if (!this.open.delete(correlationId)) return { closed: false, notification: undefined };
    if (notification === undefined) return { closed: true, notification: undefined };
    const record: FileNotificationRecord = { ...notification, sequenceNumber: ++this.lastSequenceNumber, deliveryCount: 0, lockToken: null, lockedUntil: null };
    this.queued.push(record);
    return { closed: true, notification: { ...record } };
  }

  async removeUploads(correlationIds: readonly string[]): Promise<string[]> {
    this.assertOpen();
    checkStrings(correlationIds, "file uploads remove");
    return correlationIds.filter((id) => this.open.delete(id));
  }

  async deleteDeviceUploads(deviceId: string): Promise<number> {
    this.assertOpen();
    checkString(deviceId, "file uploads delete: deviceId", true);
    let count = 0;
    for (const [id, upload] of this.open) {
      if (upload.deviceId !== deviceId) continue;
      this.open.delete(id);
      count++;
    }
    return count;
  }

  async notifications(): Promise<FileNotificationRecord[]> {
    this.assertOpen();
    return this.queued.map((n) => ({ ...n }));
  }

  async setNotificationDelivery(sequenceNumber: number, expectedLockToken: string | null, delivery: FileNotificationDelivery): Promise<FileNotificationRecord | undefined> {
    this.assertOpen();
    checkFileNotificationDelivery(sequenceNumber, expectedLockToken, delivery);
    const index = this.queued.findIndex((n) => n.sequenceNumber === sequenceNumber);
    const current = this.queued[index];
    if (current === undefined || current.lockToken !== expectedLockToken) return undefined;
    const updated: FileNotificationRecord = { ...current, deliveryCount: delivery.deliveryCount, lockToken: delivery.lockToken, lockedUntil: delivery.lockedUntil };
    this.queued[index] = updated;
    return { ...updated };
  }

  async removeNotifications(sequenceNumbers: readonly number[]): Promise<number[]> {
    this.assertOpen();
    checkSequenceNumbers(sequenceNumbers, "file notifications remove");
    const present = new Set(this.queued.map((n) => n.sequenceNumber));
    const removed = [...new Set(sequenceNumbers)].filter((n) => present.has(n));
    const gone = new Set(removed);
    this.queued = this.queued.filter((n) => !gone.has(n.sequenceNumber));
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("The file upload store is closed");
  }
}
