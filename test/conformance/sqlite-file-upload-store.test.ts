import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import type { FileUploadStore } from "../../src/hub/ports/file-upload-store.js";
import { SqliteC2dStore } from "../../src/storage/sqlite/sqlite-c2d-store.js";
import { FILE_UPLOAD_APPLICATION_ID, SqliteFileUploadStore } from "../../src/storage/sqlite/sqlite-file-upload-store.js";
import { fileUploadMigrations } from "../../src/storage/sqlite/file-upload-migrations.js";
import { fileUploadStoreConformance } from "./file-upload-store.suite.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "malachite-sqlite-files-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;
const newPath = () => path.join(dir, `files-${++files}.db`);
const paths = new WeakMap<FileUploadStore, string>();

function openFile(file: string): SqliteFileUploadStore {
  const store = SqliteFileUploadStore.open({ path: file });
  paths.set(store, file);
  return store;
}

fileUploadStoreConformance(
  "SqliteFileUploadStore (file)",
  () => openFile(newPath()),
  (closed) => openFile(paths.get(closed)!),
);
fileUploadStoreConformance("SqliteFileUploadStore (:memory:)", () => SqliteFileUploadStore.open({ path: ":memory:" }));

test("a new file gets every migration, WAL, FULL sync and its application id; other Malachite files are refused", async () => {
  const file = newPath();
  const store = openFile(file);
  assert.equal((store as unknown as { db: Database.Database }).db.pragma("synchronous", { simple: true }), 2);
  await store.close();
  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.pragma("user_version", { simple: true }), fileUploadMigrations.at(-1)!.version);
    assert.equal(db.pragma("application_id", { simple: true }), FILE_UPLOAD_APPLICATION_ID);
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
  } finally {
    db.close();
  }
  const c2d = newPath();
  await SqliteC2dStore.open({ path: c2d }).close();
  assert.throws(() => SqliteFileUploadStore.open({ path: c2d }), /not a Malachite file upload store/);
  assert.throws(() => SqliteC2dStore.open({ path: file }), /not a Malachite C2D store/);
});
