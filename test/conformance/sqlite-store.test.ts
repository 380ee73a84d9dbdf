import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { Store } from "../../src/hub/ports/store.js";
import { migrations } from "../../src/storage/sqlite/migrations.js";
import { SqliteStore } from "../../src/storage/sqlite/sqlite-store.js";
import { storeConformance } from "./store.suite.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "malachite-sqlite-store-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;
const newPath = () => path.join(dir, `store-${++files}.sqlite`);
/** Which file each store was opened on, so the durability test can reopen it. */
const paths = new WeakMap<Store, string>();

function openFile(file: string): SqliteStore {
  const store = SqliteStore.open({ path: file });
  paths.set(store, file);
  return store;
}

storeConformance(
  "SqliteStore (file)",
  () => openFile(newPath()),
  (closed) => openFile(paths.get(closed)!),
);
storeConformance("SqliteStore (:memory:)", () => SqliteStore.open({ path: ":memory:" }));

describe("SqliteStore specifics", () => {
  test("migrations are numbered 1, 2, 3… in order", () => {
    assert.deepEqual(
      migrations.map((migration) => migration.version),
      migrations.map((_, index) => index + 1),
    );
  });

  test("a new database gets every migration, WAL journaling and user_version set", async () => {
    const file = newPath();
    await SqliteStore.open({ path: file }).close();
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma("user_version", { simple: true }), migrations.at(-1)!.version);
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      assert.deepEqual(tables, ["identities", "settings"]);
    } finally {
      db.close();
    }
  });

  test("reopening an up-to-date database applies nothing again", async () => {
    const file = newPath();
    const first = SqliteStore.open({ path: file });
    await first.putSetting("s", 1);
    await first.close();
    // A re-run of migration 1 would fail on CREATE TABLE; reopening must not.
    const second = SqliteStore.open({ path: file });
    assert.equal(await second.getSetting("s"), 1);
    await second.close();
  });

  test("only the pending migrations run on an older database", async () => {
    const file = newPath();
    const db = new Database(file);
    db.exec(migrations[0]!.sql);
    db.pragma("user_version = 1");
    db.close();
    const store = SqliteStore.open({ path: file });
    await store.putSetting("s", true);
    assert.equal(await store.getSetting("s"), true);
    await store.close();
  });

  test("a database from a newer Malachite is refused", () => {
    const file = newPath();
    const db = new Database(file);
    db.pragma(`user_version = ${migrations.at(-1)!.version + 1}`);
    db.close();
    assert.throws(() => SqliteStore.open({ path: file }), /newer than this Malachite supports/);
  });

  test("scans use the primary key index rather than sorting", () => {
    const file = newPath();
    SqliteStore.open({ path: file }).close();
    const db = new Database(file, { readonly: true });
    try {
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT identity FROM identities
           WHERE module_id = '' AND (device_id, module_id) > (?, ?) ORDER BY device_id, module_id LIMIT ?`,
        )
        .all("a", "", 10) as { detail: string }[];
      const details = plan.map((row) => row.detail).join("\n");
      assert.match(details, /USING INDEX sqlite_autoindex_identities_1/);
      assert.doesNotMatch(details, /TEMP B-TREE/);
    } finally {
      db.close();
    }
  });
});
