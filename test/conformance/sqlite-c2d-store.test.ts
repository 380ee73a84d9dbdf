import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { C2dEnqueue, C2dStore } from "../../src/hub/ports/c2d-store.js";
import { SqliteStore } from "../../src/storage/sqlite/sqlite-store.js";
import { C2D_APPLICATION_ID, SqliteC2dStore } from "../../src/storage/sqlite/sqlite-c2d-store.js";
import { SqliteTelemetryLog } from "../../src/storage/sqlite/sqlite-telemetry-log.js";
import { c2dMigrations } from "../../src/storage/sqlite/c2d-migrations.js";
import { c2dStoreConformance } from "./c2d-store.suite.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "malachite-sqlite-c2d-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;
const newPath = () => path.join(dir, `c2d-${++files}.db`);
const paths = new WeakMap<C2dStore, string>();

function openFile(file: string): SqliteC2dStore {
  const store = SqliteC2dStore.open({ path: file });
  paths.set(store, file);
  return store;
}

c2dStoreConformance(
  "SqliteC2dStore (file)",
  () => openFile(newPath()),
  (closed) => openFile(paths.get(closed)!),
);
c2dStoreConformance("SqliteC2dStore (:memory:)", () => SqliteC2dStore.open({ path: ":memory:" }));

const T = 1_700_000_000_000;
let nextId = 0;
function msg(deviceId: string): C2dEnqueue {
  return {
    id: `sqlite-${++nextId}`,
    deviceId,
    deviceGenerationId: "1",
    enqueuedTime: T,
    expiryTime: T + 1000,
    body: Buffer.from("x"),
    properties: {},
    systemProperties: { ack: "none" },
  };
}

/** Makes inserts of messages fail from a second connection, as a full disk would make the commit fail. */
function failInserts(file: string): () => void {
  const other = new Database(file);
  try {
    other.exec(`CREATE TRIGGER fail_enqueue BEFORE INSERT ON c2d_messages
                BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
  } finally {
    other.close();
  }
  return () => {
    const again = new Database(file);
    try {
      again.exec("DROP TRIGGER fail_enqueue");
    } finally {
      again.close();
    }
  };
}

describe("SqliteC2dStore specifics", () => {
  test("writes of one turn are one group commit", async () => {
    const store = openFile(newPath());
    try {
      const sent = await Promise.all(Array.from({ length: 100 }, (_, i) => store.enqueue(msg(`d${i % 7}`))));
      assert.equal(store.commits, 1);
      await Promise.all([store.remove([{ id: sent[0]!.id }]), store.setDelivery(sent[1]!.id, null, { deliveryCount: 1, lockToken: "t", lockedUntil: T })]);
      assert.equal(store.commits, 2);
    } finally {
      await store.close();
    }
  });

  test("a write failing inside a group commit fails alone; the others of the batch are kept", async () => {
    const file = newPath();
    const store = openFile(file);
    try {
      const first = await store.enqueue(msg("d1"));
      const restore = failInserts(file);
      const settled = await Promise.allSettled([
        store.enqueue(msg("d1")),
        store.setDelivery(first.id, null, { deliveryCount: 1, lockToken: "t", lockedUntil: T }),
        store.deleteFeedback([1]),
      ]);
      restore();
      assert.deepEqual(settled.map((s) => s.status), ["rejected", "fulfilled", "fulfilled"]);
      assert.match(String((settled[0] as PromiseRejectedResult).reason), /injected failure/);
      const [stored] = await store.list("d1");
      assert.equal(stored!.lockToken, "t");
      assert.equal(await store.count("d1"), 1);
      // The failed enqueue took no sequence number.
      assert.equal((await store.enqueue(msg("d1"))).sequenceNumber, 2);
    } finally {
      await store.close();
    }
  });

  test("migrations are numbered 1, 2, 3… in order", () => {
    assert.deepEqual(
      c2dMigrations.map((migration) => migration.version),
      c2dMigrations.map((_, index) => index + 1),
    );
  });

  test("a new file gets every migration, WAL, FULL sync, its application id and its tables", async () => {
    const file = newPath();
    const store = openFile(file);
    const own = (store as unknown as { db: Database.Database }).db;
    assert.equal(own.pragma("synchronous", { simple: true }), 2);
    await store.close();
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma("user_version", { simple: true }), c2dMigrations.at(-1)!.version);
      assert.equal(db.pragma("application_id", { simple: true }), C2D_APPLICATION_ID);
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      assert.deepEqual(tables, ["c2d_devices", "c2d_feedback", "c2d_messages", "sqlite_sequence"]);
    } finally {
      db.close();
    }
  });

  test("the identity store's and the telemetry log's databases are refused and left untouched", async () => {
    const identities = newPath();
    const store = SqliteStore.open({ path: identities });
    await store.putSetting("s", 1);
    await store.close();
    assert.throws(() => SqliteC2dStore.open({ path: identities }), /not a Malachite C2D store/);
    const reopened = SqliteStore.open({ path: identities });
    assert.equal(await reopened.getSetting("s"), 1);
    await reopened.close();

    const telemetry = newPath();
    await SqliteTelemetryLog.open({ path: telemetry }).close();
    assert.throws(() => SqliteC2dStore.open({ path: telemetry }), /not a Malachite C2D store/);
    // And the other way round: the telemetry log refuses a C2D file.
    const c2d = newPath();
    await openFile(c2d).close();
    assert.throws(() => SqliteTelemetryLog.open({ path: c2d }), /not a Malachite telemetry log/);
  });

  test("a file from a newer Malachite is refused", async () => {
    const file = newPath();
    await openFile(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${c2dMigrations.at(-1)!.version + 1}`);
    db.close();
    assert.throws(() => SqliteC2dStore.open({ path: file }), /newer than this Malachite supports/);
  });

  test("per-device reads and deletes use an index rather than scanning or sorting", async () => {
    const file = newPath();
    await openFile(file).close();
    const db = new Database(file, { readonly: true });
    try {
      const plan = (sql: string) => {
        const params = Array.from({ length: sql.split("?").length - 1 }, () => "x");
        return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join("\n");
      };
      for (const sql of [
        "SELECT body FROM c2d_messages WHERE device_id = ? ORDER BY sequence_number",
        "SELECT count(*) FROM c2d_messages WHERE device_id = ?",
        "DELETE FROM c2d_messages WHERE device_id = ?",
        "DELETE FROM c2d_feedback WHERE device_id = ?",
      ]) {
        const details = plan(sql);
        assert.match(details, /USING (COVERING )?INDEX/, sql);
        assert.doesNotMatch(details, /TEMP B-TREE/, sql);
      }
    } finally {
      db.close();
    }
  });
});
