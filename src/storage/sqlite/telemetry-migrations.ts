import type { Migration } from "./apply-migrations.js";

/**
 * The schema of the telemetry log's own database file (e.g. `<dataDir>/telemetry.db`), as numbered migrations tracked
 * with `PRAGMA user_version`, like the identity store's (see migrations.ts) but numbered independently: the two files
 * never share a `user_version`. Never edit a released migration; append a new one.
 */
export const telemetryMigrations: readonly Migration[] = [
  {
    version: 1,
    name: "telemetry",
    // STRICT makes SQLite refuse a wrong type instead of storing it (a REAL time, a TEXT body).
    // A rowid table: appends land at the end of its B-tree (SQLite's fast path), and only the small primary key index
    // takes inserts in the middle, one point per partition. Measured against WITHOUT ROWID keyed by (partition,
    // sequence_number) with ~800-byte rows and 4 interleaved partitions: group commits take ~20% less time; reading a
    // range takes ~1.7× as long (a table lookup per row) but still runs at ~200k rows/s before JSON parsing. The body
    // comes last so reading the other columns never touches the overflow pages of a large body.
    // telemetry_partitions holds each partition's last assigned sequence number, updated in the transaction that
    // assigns it: numbering continues after a restart even when trim has emptied the partition.
    sql: `
      CREATE TABLE telemetry (
        partition         INTEGER NOT NULL,
        sequence_number   INTEGER NOT NULL,
        enqueued_time     INTEGER NOT NULL,
        properties        TEXT NOT NULL,
        system_properties TEXT NOT NULL,
        body              BLOB NOT NULL,
        PRIMARY KEY (partition, sequence_number)
      ) STRICT;
      CREATE TABLE telemetry_partitions (
        partition            INTEGER PRIMARY KEY,
        last_sequence_number INTEGER NOT NULL,
        last_enqueued_time   INTEGER NOT NULL
      ) STRICT;
    `,
  },
];
