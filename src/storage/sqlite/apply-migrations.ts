import type Database from "better-sqlite3";

export interface Migration {
  /** 1, 2, 3…; after it is applied `user_version` equals it. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export interface MigrationOptions {
  readonly migrations: readonly Migration[];
  /** Names the database in errors, e.g. "telemetry" → "the telemetry database schema is version …". */
  readonly kind?: string;
  /**
   * `PRAGMA application_id` marking the file as this kind of Malachite database, so one file cannot be opened as
   * another (the identity store's file has none). `label` names it in the refusal.
   */
  readonly application?: { readonly id: number; readonly label: string };
}

/**
 * Applies the migrations a database has not seen yet, each in its own IMMEDIATE transaction together with its
 * version bump (`user_version` and `application_id` live in the header, so they commit or roll back with it).
 * Refuses a database from a newer Malachite, and a file of another kind.
 */
export function applyMigrations(db: Database.Database, options: MigrationOptions): void {
  const latest = options.migrations.at(-1)?.version ?? 0;
  const schema = options.kind === undefined ? "the database schema" : `the ${options.kind} database schema`;
  for (const migration of options.migrations) {
    db.transaction(() => {
      // Read inside the locked transaction: another process may be migrating the same file.
      const current = db.pragma("user_version", { simple: true }) as number;
      const app = options.application;
      let fresh = false;
      if (app !== undefined) {
        const applicationId = db.pragma("application_id", { simple: true }) as number;
        fresh = current === 0 && applicationId === 0 && db.prepare("SELECT count(*) FROM sqlite_schema").pluck().get() === 0;
        if (!fresh && applicationId !== app.id) {
          throw new Error(`the database is not a Malachite ${app.label} (is it another Malachite database?)`);
        }
      }
      if (current > latest) {
        throw new Error(`${schema} is version ${current}, newer than this Malachite supports (${latest}); upgrade Malachite`);
      }
      if (current >= migration.version) return;
      db.exec(migration.sql);
      if (fresh && app !== undefined) db.pragma(`application_id = ${app.id}`);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}
