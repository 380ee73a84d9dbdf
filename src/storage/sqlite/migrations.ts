/**
 * The SQLite schema, as numbered migrations applied in order and tracked with `PRAGMA user_version`. They are
 * TypeScript constants rather than .sql files so they ship inside the compiled module: `dist/` would not contain the
 * .sql files, and resolving them relative to `import.meta.url` differs between running from source and from the build.
 * Never edit a released migration; append a new one.
 */
import type { Migration } from "./apply-migrations.js";

export type { Migration };

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "identities",
    // A rowid table rather than WITHOUT ROWID: rows carry ~1 KB of JSON, and SQLite recommends rowid tables for
    // large rows (measured: faster bulk inserts, scans as fast). Default BINARY collation, as ids are case-sensitive.
    // `status` duplicates identity.status so devices can be counted without parsing JSON.
    sql: `
      CREATE TABLE identities (
        device_id TEXT NOT NULL,
        module_id TEXT NOT NULL,
        status    TEXT NOT NULL,
        identity  TEXT NOT NULL,
        twin      TEXT NOT NULL,
        PRIMARY KEY (device_id, module_id)
      );
      -- Covers countDevices, so counting 100k devices reads a small index instead of every JSON row.
      CREATE INDEX identities_device_status ON identities (status) WHERE module_id = '';
    `,
  },
  {
    version: 2,
    name: "settings",
    sql: `
      CREATE TABLE settings (
        name  TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
];
