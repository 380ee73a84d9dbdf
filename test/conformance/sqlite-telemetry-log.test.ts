import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { TelemetryAppend, TelemetryLog } from "../../src/hub/ports/telemetry-log.js";
import { SqliteStore } from "../../src/storage/sqlite/sqlite-store.js";
import { SqliteTelemetryLog, TELEMETRY_APPLICATION_ID } from "../../src/storage/sqlite/sqlite-telemetry-log.js";
import { telemetryMigrations } from "../../src/storage/sqlite/telemetry-migrations.js";
import { telemetryLogConformance } from "./telemetry-log.suite.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "malachite-sqlite-telemetry-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;
const newPath = () => path.join(dir, `telemetry-${++files}.db`);
/** Which file each log was opened on, so tests can reopen it or reach it through a second connection. */
const paths = new WeakMap<TelemetryLog, string>();

function openFile(file: string, maxBatchRecords?: number): SqliteTelemetryLog {
  const log = SqliteTelemetryLog.open({ path: file, maxBatchRecords });
  paths.set(log, file);
  return log;
}

/**
 * Makes inserts into the log's file fail from a second connection, as a full disk would make the commit fail: a
 * trigger that aborts (only for `partition` when given). The log's connection sees the schema change on its next
 * statement. Returns the function that removes the trigger again.
 */
function failInserts(log: TelemetryLog, partition?: number): () => void {
  const other = new Database(paths.get(log)!);
  try {
    const when = partition === undefined ? "" : `WHEN NEW.partition = ${partition}`;
    other.exec(`CREATE TRIGGER fail_appends BEFORE INSERT ON telemetry ${when}
                BEGIN SELECT RAISE(ABORT, 'injected commit failure'); END`);
  } finally {
    other.close();
  }
  return () => {
    const again = new Database(paths.get(log)!);
    try {
      again.exec("DROP TRIGGER fail_appends");
    } finally {
      again.close();
    }
  };
}

telemetryLogConformance(
  "SqliteTelemetryLog (file)",
  () => openFile(newPath()),
  (closed) => openFile(paths.get(closed)!),
  { breakCommits: (log) => failInserts(log) },
);
telemetryLogConformance("SqliteTelemetryLog (:memory:)", () => SqliteTelemetryLog.open({ path: ":memory:" }));

const T = 1_700_000_000_000;
function msg(partition: number, body = "x"): TelemetryAppend {
  return { partition, enqueuedTime: T, body: Buffer.from(body), properties: {}, systemProperties: {} };
}

describe("SqliteTelemetryLog specifics", () => {
  test("concurrent appends of one turn are one group commit", async () => {
    const log = openFile(newPath());
    try {
      await Promise.all(Array.from({ length: 200 }, (_, i) => log.append([msg(i % 4)])));
      assert.equal(log.commits, 1);
      // A later turn is another commit.
      await Promise.all([log.append([msg(0)]), log.append([msg(1)])]);
      assert.equal(log.commits, 2);
    } finally {
      await log.close();
    }
  });

  test("maxBatchRecords splits a large queue across commits, but never splits a call", async () => {
    const log = openFile(newPath(), 10);
    try {
      const singles = Array.from({ length: 25 }, () => log.append([msg(0)]));
      const big = log.append(Array.from({ length: 15 }, () => msg(1)));
      const results = await Promise.all([...singles, big]);
      // 10 + 10 + 5 singles, then the 15-record call whole in a commit of its own.
      assert.equal(log.commits, 4);
      assert.deepEqual(results.slice(0, 25).map((r) => r[0]!.sequenceNumber), Array.from({ length: 25 }, (_, i) => i));
      assert.deepEqual(results[25]!.map((r) => r.sequenceNumber), Array.from({ length: 15 }, (_, i) => i));
    } finally {
      await log.close();
    }
    assert.throws(() => SqliteTelemetryLog.open({ path: ":memory:", maxBatchRecords: 0 }), RangeError);
  });

  test("a batch failing part-way leaves nothing of any of its calls", async () => {
    const log = openFile(newPath());
    try {
      await log.append([msg(0), msg(1)]);
      // Only partition 7 fails: the rows of partitions 0 and 1 are inserted first, then rolled back.
      const restore = failInserts(log, 7);
      const settled = await Promise.allSettled([
        log.append([msg(0), msg(0)]),
        log.append([msg(1)]),
        log.append([msg(7)]),
      ]);
      restore();
      assert.deepEqual(settled.map((s) => s.status), ["rejected", "rejected", "rejected"]);
      assert.match(String((settled[0] as PromiseRejectedResult).reason), /injected commit failure/);
      assert.equal((await log.read({ partition: 0, fromSequenceNumber: 0, limit: 10 })).length, 1);
      assert.equal((await log.read({ partition: 1, fromSequenceNumber: 0, limit: 10 })).length, 1);
      assert.equal((await log.partitionInfo(0)).lastSequenceNumber, 0);
      assert.equal((await log.partitionInfo(7)).lastSequenceNumber, -1);
      // A failed batch does not fail the next one.
      const next = await Promise.all([log.append([msg(0)]), log.append([msg(7)])]);
      assert.deepEqual(next.map((r) => r[0]!.sequenceNumber), [1, 0]);
    } finally {
      await log.close();
    }
  });

  test("migrations are numbered 1, 2, 3… in order", () => {
    assert.deepEqual(
      telemetryMigrations.map((migration) => migration.version),
      telemetryMigrations.map((_, index) => index + 1),
    );
  });

  test("a new file gets every migration, WAL, FULL sync, its application id and its tables", async () => {
    const file = newPath();
    const log = openFile(file);
    // synchronous is per connection: check the log's own. FULL (2) is what makes a resolved append durable.
    const own = (log as unknown as { db: Database.Database }).db;
    assert.equal(own.pragma("synchronous", { simple: true }), 2);
    await log.close();
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma("user_version", { simple: true }), telemetryMigrations.at(-1)!.version);
      assert.equal(db.pragma("application_id", { simple: true }), TELEMETRY_APPLICATION_ID);
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      assert.deepEqual(tables, ["telemetry", "telemetry_partitions"]);
    } finally {
      db.close();
    }
  });

  test("reopening an up-to-date file applies nothing again", async () => {
    const file = newPath();
    const first = openFile(file);
    await first.append([msg(0)]);
    await first.close();
    // A re-run of migration 1 would fail on CREATE TABLE; reopening must not.
    const second = openFile(file);
    assert.equal((await second.partitionInfo(0)).lastSequenceNumber, 0);
    await second.close();
  });

  test("the identity store's database is refused and left untouched", async () => {
    const file = newPath();
    const store = SqliteStore.open({ path: file });
    await store.putSetting("s", 1);
    await store.close();
    assert.throws(() => SqliteTelemetryLog.open({ path: file }), /not a Malachite telemetry log/);
    const reopened = SqliteStore.open({ path: file });
    assert.equal(await reopened.getSetting("s"), 1);
    await reopened.close();
  });

  test("a foreign SQLite file is refused", () => {
    const file = newPath();
    const db = new Database(file);
    db.exec("CREATE TABLE other (x)");
    db.close();
    assert.throws(() => SqliteTelemetryLog.open({ path: file }), /not a Malachite telemetry log/);
  });

  test("a file from a newer Malachite is refused", async () => {
    const file = newPath();
    await openFile(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${telemetryMigrations.at(-1)!.version + 1}`);
    db.close();
    assert.throws(() => SqliteTelemetryLog.open({ path: file }), /newer than this Malachite supports/);
  });

  test("reads, partition info and trim use the primary key index rather than scanning or sorting", async () => {
    const file = newPath();
    await openFile(file).close();
    const db = new Database(file, { readonly: true });
    try {
      const plan = (sql: string) => {
        const params = Array.from({ length: sql.split("?").length - 1 }, () => 0);
        const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
        return rows.map((row) => row.detail).join("\n");
      };
      const index = /USING (COVERING )?INDEX sqlite_autoindex_telemetry_1 /;
      for (const sql of [
        "SELECT body FROM telemetry WHERE partition = ? AND sequence_number >= ? ORDER BY sequence_number LIMIT ?",
        `SELECT sequence_number FROM telemetry WHERE partition = ? AND enqueued_time >= ?
         ORDER BY sequence_number LIMIT 1`,
        "DELETE FROM telemetry WHERE partition = ? AND sequence_number < ?",
        "SELECT min(sequence_number) FROM telemetry WHERE partition = ?",
      ]) {
        const details = plan(sql);
        assert.match(details, index, sql);
        assert.doesNotMatch(details, /TEMP B-TREE|SCAN telemetry\b(?! USING)/, sql);
      }
    } finally {
      db.close();
    }
  });
});
