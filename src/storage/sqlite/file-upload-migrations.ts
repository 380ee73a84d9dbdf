import type { Migration } from "./apply-migrations.js";

/**
 * The schema of the file upload store's own database file (`<dataDir>/files.db`), as numbered migrations tracked
 * with `PRAGMA user_version`. Never edit a released migration; append a new one.
 */
export const fileUploadMigrations: readonly Migration[] = [
  {
    version: 1,
    name: "open uploads and file notifications",
    // The notifications' AUTOINCREMENT key never reuses a sequence number, even after the highest records were
    // deleted and the file reopened. `seq` on uploads keeps creation order for listing.
    sql: `
      CREATE TABLE file_uploads (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        correlation_id  TEXT NOT NULL UNIQUE,
        device_id       TEXT NOT NULL,
        blob_name       TEXT NOT NULL,
        blob_uri        TEXT NOT NULL,
        created_time    INTEGER NOT NULL,
        expiry_time     INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX file_uploads_device ON file_uploads (device_id);
      CREATE TABLE file_notifications (
        sequence_number    INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id          TEXT NOT NULL,
        blob_name          TEXT NOT NULL,
        blob_uri           TEXT NOT NULL,
        last_updated_time  INTEGER NOT NULL,
        blob_size_in_bytes INTEGER NOT NULL,
        enqueued_time      INTEGER NOT NULL,
        expiry_time        INTEGER NOT NULL,
        delivery_count     INTEGER NOT NULL,
        lock_token         TEXT,
        locked_until       INTEGER
      ) STRICT;
    `,
  },
];
