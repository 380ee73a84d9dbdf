import Database from "better-sqlite3";
import { applyMigrations } from "./apply-migrations.js";
import { fileUploadMigrations } from "./file-upload-migrations.js";
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

export interface SqliteFileUploadStoreOptions {
  /** The store's own database file (e.g. `<dataDir>/files.db`), created if missing, or ":memory:". */
  path: string;
}

/** `PRAGMA application_id` of a file upload database ("MaLF"), so another Malachite file is not opened as one. */
export const FILE_UPLOAD_APPLICATION_ID = 0x4d614c46;

interface UploadRow {
  correlation_id: string;
  device_id: string;
  blob_name: string;
  blob_uri: string;
  created_time: number;
  expiry_time: number;
}

interface NotificationRow {
  sequence_number: number;
  device_id: string;
  blob_name: string;
  blob_uri: string;
  last_updated_time: number;
  blob_size_in_bytes: number;
  enqueued_time: number;
  expiry_time: number;
  delivery_count: number;
  lock_token: string | null;
  locked_until: number | null;
}

const UPLOAD_COLUMNS = "correlation_id, device_id, blob_name, blob_uri, created_time, expiry_time";
const NOTIFICATION_COLUMNS = `sequence_number, device_id, blob_name, blob_uri, last_updated_time, blob_size_in_bytes, enqueued_time,
  expiry_time, delivery_count, lock_token, locked_until`;

/**
 * A FileUploadStore in its own SQLite file, through better-sqlite3. File uploads are rare next to telemetry (IoT Hub
 * throttles their initiation at 1.67/s per unit), so each write is simply its own IMMEDIATE transaction; with
 * `synchronous = FULL` a resolved write is on disk, so a device's notification is answered 204 only once its file
 * notification is durable.
 */
export class SqliteFileUploadStore implements FileUploadStore {
  static open(options: SqliteFileUploadStoreOptions): SqliteFileUploadStore {
    const db = new Database(options.path);
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      applyMigrations(db, { migrations: fileUploadMigrations, kind: "file upload", application: { id: FILE_UPLOAD_APPLICATION_ID, label: "file upload store" } });
      return new SqliteFileUploadStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private readonly insertUpload: Database.Statement<[string, string, string, string, number, number]>;
  private readonly selectUpload: Database.Statement<[string], UploadRow>;
  private readonly selectUploads: Database.Statement<[], UploadRow>;
  private readonly selectDeviceUploads: Database.Statement<[string], UploadRow>;
  private readonly deleteUpload: Database.Statement<[string]>;
  private readonly deleteDevice: Database.Statement<[string]>;
  private readonly insertNotification: Database.Statement<[string, string, string, number, number, number, number]>;
  private readonly selectNotification: Database.Statement<[number], NotificationRow>;
  private readonly selectNotifications: Database.Statement<[], NotificationRow>;
  private readonly updateDelivery: Database.Statement<[number, string | null, number | null, number, string | null]>;
  private readonly deleteNotification: Database.Statement<[number]>;
  private closed = false;

  private constructor(private readonly db: Database.Database) {
    this.insertUpload = db.prepare(
      `INSERT INTO file_uploads (correlation_id, device_id, blob_name, blob_uri, created_time, expiry_time) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.selectUpload = db.prepare(`SELECT ${UPLOAD_COLUMNS} FROM file_uploads WHERE correlation_id = ?`);
    this.selectUploads = db.prepare(`SELECT ${UPLOAD_COLUMNS} FROM file_uploads ORDER BY seq`);
    this.selectDeviceUploads = db.prepare(`SELECT ${UPLOAD_COLUMNS} FROM file_uploads WHERE device_id = ? ORDER BY seq`);
    this.deleteUpload = db.prepare("DELETE FROM file_uploads WHERE correlation_id = ?");
    this.deleteDevice = db.prepare("DELETE FROM file_uploads WHERE device_id = ?");
    this.insertNotification = db.prepare(
      `INSERT INTO file_notifications (device_id, blob_name, blob_uri, last_updated_time, blob_size_in_bytes, enqueued_time, expiry_time,
         delivery_count, lock_token, locked_until)
       VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL)`,
    );
    this.selectNotification = db.prepare(`SELECT ${NOTIFICATION_COLUMNS} FROM file_notifications WHERE sequence_number = ?`);
    this.selectNotifications = db.prepare(`SELECT ${NOTIFICATION_COLUMNS} FROM file_notifications ORDER BY sequence_number`);
    this.updateDelivery = db.prepare(
      `UPDATE file_notifications SET delivery_count = ?, lock_token = ?, locked_until = ? WHERE sequence_number = ? AND lock_token IS ?`,
    );
    this.deleteNotification = db.prepare("DELETE FROM file_notifications WHERE sequence_number = ?");
  }

  async addUpload(upload: FileUploadRecord): Promise<void> {
    this.assertOpen();
    checkFileUpload(upload);
    this.db
      .transaction(() => {
        if (this.selectUpload.get(upload.correlationId) !== undefined) {
          throw new RangeError(`file upload: correlation id ${JSON.stringify(upload.correlationId)} is already open`);
        }
        this.insertUpload.run(upload.correlationId, upload.deviceId, upload.blobName, upload.blobUri, upload.createdTime, upload.expiryTime);
      })
      .immediate();
  }

  async uploads(deviceId?: string): Promise<FileUploadRecord[]> {
    this.assertOpen();
    if (deviceId !== undefined) checkString(deviceId, "file uploads: deviceId", true);
    const rows = deviceId === undefined ? this.selectUploads.all() : this.selectDeviceUploads.all(deviceId);
    return rows.map(uploadOf);
  }

  async getUpload(correlationId: string): Promise<FileUploadRecord | undefined> {
    this.assertOpen();
    checkString(correlationId, "file upload: correlationId", false);
    const row = this.selectUpload.get(correlationId);
    return row === undefined ? undefined : uploadOf(row);
  }

  async closeUpload(correlationId: string, notification?: FileNotificationAppend): Promise<FileUploadCloseResult> {
    this.assertOpen();
    checkString(correlationId, "file upload close: correlationId", false);
    if (notification !== undefined) checkFileNotification(notification);
    return this.db
      .transaction((): FileUploadCloseResult => {
        if (this.deleteUpload.run(correlationId).changes === 0) return { closed: false, notification: undefined };
        if (notification === undefined) return { closed: true, notification: undefined };
        const n = notification;
        const { lastInsertRowid } = this.insertNotification.run(n.deviceId, n.blobName, n.blobUri, n.lastUpdatedTime, n.blobSizeInBytes, n.enqueuedTime, n.expiryTime);
        return { closed: true, notification: notificationOf(this.selectNotification.get(Number(lastInsertRowid))!) };
      })
      .immediate();
  }

  async removeUploads(correlationIds: readonly string[]): Promise<string[]> {
    this.assertOpen();
    checkStrings(correlationIds, "file uploads remove");
    return this.db.transaction(() => correlationIds.filter((id) => this.deleteUpload.run(id).changes > 0)).immediate();
  }

  async deleteDeviceUploads(deviceId: string): Promise<number> {
    this.assertOpen();
    checkString(deviceId, "file uploads delete: deviceId", true);
    return this.deleteDevice.run(deviceId).changes;
  }

  async notifications(): Promise<FileNotificationRecord[]> {
    this.assertOpen();
    return this.selectNotifications.all().map(notificationOf);
  }

  async setNotificationDelivery(sequenceNumber: number, expectedLockToken: string | null, delivery: FileNotificationDelivery): Promise<FileNotificationRecord | undefined> {
    this.assertOpen();
    checkFileNotificationDelivery(sequenceNumber, expectedLockToken, delivery);
    return this.db
      .transaction(() => {
        const changed = this.updateDelivery.run(delivery.deliveryCount, delivery.lockToken, delivery.lockedUntil, sequenceNumber, expectedLockToken).changes;
        if (changed === 0) return undefined;
        return notificationOf(this.selectNotification.get(sequenceNumber)!);
      })
      .immediate();
  }

  async removeNotifications(sequenceNumbers: readonly number[]): Promise<number[]> {
    this.assertOpen();
    checkSequenceNumbers(sequenceNumbers, "file notifications remove");
    return this.db.transaction(() => [...new Set(sequenceNumbers)].filter((n) => this.deleteNotification.run(n).changes > 0)).immediate();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("The file upload store is closed");
  }
}

function uploadOf(row: UploadRow): FileUploadRecord {
  return {
    correlationId: row.correlation_id,
    deviceId: row.device_id,
    blobName: row.blob_name,
    blobUri: row.blob_uri,
    createdTime: row.created_time,
    expiryTime: row.expiry_time,
  };
}

function notificationOf(row: NotificationRow): FileNotificationRecord {
  return {
    sequenceNumber: row.sequence_number,
    deviceId: row.device_id,
    blobName: row.blob_name,
    blobUri: row.blob_uri,
    lastUpdatedTime: row.last_updated_time,
    blobSizeInBytes: row.blob_size_in_bytes,
    enqueuedTime: row.enqueued_time,
    expiryTime: row.expiry_time,
    deliveryCount: row.delivery_count,
    lockToken: row.lock_token,
    lockedUntil: row.locked_until,
  };
}
