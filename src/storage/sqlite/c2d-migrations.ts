import type { Migration } from "./apply-migrations.js";

/**
 * The schema of the C2D store's own database file (`<dataDir>/c2d.db`), as numbered migrations tracked with
 * `PRAGMA user_version`, like the identity store's (see migrations.ts) but numbered independently. Never edit a
 * released migration; append a new one.
 */
export const c2dMigrations: readonly Migration[] = [
  {
    version: 1,
    name: "c2d queues and feedback",
    // c2d_devices keeps each device's last assigned sequence number, so numbering continues when the queue empties
    // and after a restart; its rows are also the list of queues recovery walks. A message's body comes last so
    // reading the other columns never touches the overflow pages of a large body. The feedback table's AUTOINCREMENT
    // key never reuses a sequence number, even after the highest records were deleted and the file reopened.
    sql: `
      CREATE TABLE c2d_devices (
        device_id            TEXT NOT NULL PRIMARY KEY,
        last_sequence_number INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE c2d_messages (
        id                   TEXT NOT NULL PRIMARY KEY,
        device_id            TEXT NOT NULL,
        sequence_number      INTEGER NOT NULL,
        device_generation_id TEXT NOT NULL,
        enqueued_time        INTEGER NOT NULL,
        expiry_time          INTEGER NOT NULL,
        delivery_count       INTEGER NOT NULL,
        lock_token           TEXT,
        locked_until         INTEGER,
        system_properties    TEXT NOT NULL,
        properties           TEXT NOT NULL,
        body                 BLOB NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX c2d_messages_device ON c2d_messages (device_id, sequence_number);
      CREATE TABLE c2d_feedback (
        sequence_number      INTEGER PRIMARY KEY AUTOINCREMENT,
        original_message_id  TEXT NOT NULL,
        device_id            TEXT NOT NULL,
        device_generation_id TEXT NOT NULL,
        enqueued_time        INTEGER NOT NULL,
        status_code          TEXT NOT NULL,
        description          TEXT NOT NULL
      ) STRICT;
      CREATE INDEX c2d_feedback_device ON c2d_feedback (device_id);
    `,
  },
];
