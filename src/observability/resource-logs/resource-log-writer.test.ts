import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResourceLogCategory, ResourceLogRecord } from "./render-record.js";
import { ResourceLogWriter } from "./resource-log-writer.js";
import { parseLogQuery, parseSince } from "./log-query.js";

const BASE = Date.parse("2026-03-04T10:00:00Z");

function record(i: number, options: { category?: ResourceLogCategory; deviceId?: string } = {}): ResourceLogRecord {
  return {
    time: `${new Date(BASE + i * 1000).toISOString().slice(0, 19)}Z`,
    resourceId: "/SUBSCRIPTIONS/0/RESOURCEGROUPS/MALACHITE/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/HUB",
    operationName: "deviceConnect",
    category: options.category ?? "Connections",
    level: "Information",
    properties: JSON.stringify({ deviceId: options.deviceId ?? `dev-${i % 3}`, seq: i }),
    location: "local",
  };
}

const seqOf = (r: ResourceLogRecord): number => (JSON.parse(r.properties) as { seq: number }).seq;

describe("ResourceLogWriter", () => {
  let dir: string;
  const errors: unknown[] = [];
  const onError = (error: unknown): void => void errors.push(error);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "malachite-logs-"));
    errors.length = 0;
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(errors, []);
  });

  const files = (): string[] => readdirSync(dir).filter((n) => n.endsWith(".jsonl")).sort();
  const lines = (name: string): ResourceLogRecord[] => readFileSync(join(dir, name), "utf8").trim().split("\n").map((l) => JSON.parse(l) as ResourceLogRecord);

  test("writes JSON Lines in batches, one record per line, in append order", async () => {
    const writer = await ResourceLogWriter.open({ dir, onError, flushDelayMs: 10_000 });
    writer.append([record(1), record(2)]);
    writer.append([record(3)]);
    assert.deepEqual(files(), [], "nothing is written until the batch is flushed");
    await writer.flush();
    assert.deepEqual(files(), ["resource-logs-000001.jsonl"]);
    assert.deepEqual(lines(files()[0]!).map(seqOf), [1, 2, 3]);
    assert.equal(typeof lines(files()[0]!)[0]!.properties, "string");
    await writer.close();
  });

  test("a pending batch is written after the delay without a flush", async () => {
    const writer = await ResourceLogWriter.open({ dir, onError, flushDelayMs: 5 });
    writer.append([record(1)]);
    for (let i = 0; i < 100 && files().length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(files(), ["resource-logs-000001.jsonl"]);
    await writer.close();
  });

  test("rotates by size: no file grows past maxFileBytes, and count retention deletes the oldest", async () => {
    const size = Buffer.byteLength(`${JSON.stringify(record(10))}\n`);
    const writer = await ResourceLogWriter.open({ dir, onError, maxFileBytes: size * 3, maxFiles: 3 });
    for (let i = 10; i < 30; i++) writer.append([record(i)]);
    await writer.flush();
    const names = files();
    assert.equal(names.length, 3, names.join());
    for (const name of names) assert.ok(statSync(join(dir, name)).size <= size * 3, name);
    // 20 records at 3 per file: files 1-7; only the newest three remain, holding the newest records.
    assert.deepEqual(names, ["resource-logs-000005.jsonl", "resource-logs-000006.jsonl", "resource-logs-000007.jsonl"]);
    assert.deepEqual(lines(names[2]!).map(seqOf), [28, 29]);
    await writer.close();
  });

  test("rotates by age, and deletes files older than maxAgeMs", async () => {
    let now = BASE;
    const writer = await ResourceLogWriter.open({ dir, onError, rotateAfterMs: 3_600_000, maxAgeMs: 2 * 3_600_000, now: () => now });
    writer.append([record(1)]);
    await writer.flush();
    // Files' ages are their last write on the wall clock; make the first look as old as the fake clock says.
    utimesSync(join(dir, "resource-logs-000001.jsonl"), new Date(now), new Date(now));
    now += 3_600_000;
    writer.append([record(2)]);
    await writer.flush();
    assert.deepEqual(files(), ["resource-logs-000001.jsonl", "resource-logs-000002.jsonl"]);
    utimesSync(join(dir, "resource-logs-000002.jsonl"), new Date(now), new Date(now));
    now += 3_600_000 + 1;
    writer.append([record(3)]);
    await writer.flush();
    assert.deepEqual(files(), ["resource-logs-000002.jsonl", "resource-logs-000003.jsonl"], "the first file is past two hours old; the second is not");
    await writer.close();
  });

  test("the ring answers queries with filters, newest `limit` oldest first", async () => {
    const writer = await ResourceLogWriter.open({ dir: undefined, onError });
    for (let i = 0; i < 20; i++) writer.append([record(i, { category: i % 2 === 0 ? "Connections" : "DirectMethods" })]);
    assert.deepEqual((await writer.query({ limit: 5 })).map(seqOf), [15, 16, 17, 18, 19]);
    assert.deepEqual((await writer.query({ category: "DirectMethods", limit: 3 })).map(seqOf), [15, 17, 19]);
    assert.deepEqual((await writer.query({ deviceId: "dev-0", limit: 100 })).map(seqOf), [0, 3, 6, 9, 12, 15, 18]);
    assert.deepEqual((await writer.query({ since: BASE + 17_500, limit: 100 })).map(seqOf), [17, 18, 19], "since counts in whole seconds");
    assert.deepEqual((await writer.query({ category: "TwinQueries", limit: 100 })), []);
    await writer.close();
  });

  test("a memory writer keeps only its ring: the oldest records go", async () => {
    const writer = await ResourceLogWriter.open({ dir: undefined, onError, ringSize: 4 });
    for (let i = 0; i < 10; i++) writer.append([record(i)]);
    assert.deepEqual((await writer.query({ limit: 100 })).map(seqOf), [6, 7, 8, 9]);
    await writer.close();
  });

  test("queries reaching past the ring read the files", async () => {
    const writer = await ResourceLogWriter.open({ dir, onError, ringSize: 4 });
    for (let i = 0; i < 10; i++) writer.append([record(i)]);
    assert.deepEqual((await writer.query({ limit: 3 })).map(seqOf), [7, 8, 9], "served by the ring");
    assert.deepEqual((await writer.query({ limit: 100 })).map(seqOf), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "served by the files");
    assert.deepEqual((await writer.query({ deviceId: "dev-1", limit: 100 })).map(seqOf), [1, 4, 7]);
    assert.deepEqual((await writer.query({ since: BASE + 2000, limit: 2 })).map(seqOf), [8, 9]);
    assert.deepEqual((await writer.query({ since: BASE + 2000, deviceId: "dev-2", limit: 100 })).map(seqOf), [2, 5, 8]);
    await writer.close();
  });

  test("a restarted writer continues the last file and finds the earlier run's records", async () => {
    const first = await ResourceLogWriter.open({ dir, onError });
    first.append([record(1), record(2)]);
    await first.close();
    first.append([record(99)]);
    const second = await ResourceLogWriter.open({ dir, onError });
    second.append([record(3)]);
    await second.flush();
    assert.deepEqual(files(), ["resource-logs-000001.jsonl"]);
    assert.deepEqual((await second.query({ limit: 100 })).map(seqOf), [1, 2, 3], "nothing appended after close was written");
    await second.close();
  });

  test("a torn last line (a crash mid-write) is skipped", async () => {
    writeFileSync(join(dir, "resource-logs-000001.jsonl"), `${JSON.stringify(record(1))}\n{"time":"2026-03`);
    const writer = await ResourceLogWriter.open({ dir, onError, maxFileBytes: 10 });
    writer.append([record(2)]);
    assert.deepEqual((await writer.query({ limit: 100 })).map(seqOf), [1, 2]);
    await writer.close();
  });

  test("a write failure is reported, never thrown, and later writes go on", async () => {
    const reported: unknown[] = [];
    const writer = await ResourceLogWriter.open({ dir, onError: (error) => void reported.push(error) });
    rmSync(dir, { recursive: true });
    writer.append([record(1)]);
    await writer.flush();
    assert.equal(reported.length, 1);
    assert.deepEqual((await writer.query({ limit: 10 })).map(seqOf), [1], "the ring still has it");
    await writer.close();
  });
});

describe("log queries", () => {
  const now = Date.parse("2026-03-04T12:00:00Z");

  test("since: an ISO time or a duration back from hub time", () => {
    assert.equal(parseSince("10m", now), now - 600_000);
    assert.equal(parseSince("2h", now), now - 7_200_000);
    assert.equal(parseSince("90s", now), now - 90_000);
    assert.equal(parseSince("7d", now), now - 7 * 86_400_000);
    assert.equal(parseSince("2026-03-04T10:15:00Z", now), Date.parse("2026-03-04T10:15:00Z"));
    for (const bad of ["yesterday", "10 minutes", "-5m", "1", "2026-13-45T00:00:00Z", ""]) assert.equal(parseSince(bad, now), undefined, bad);
  });

  test("parameters: categories case-insensitive; bad values and unknown names refused with a message", () => {
    const ok = parseLogQuery({ category: "connections", deviceId: "d1", since: "10m", limit: "5", "api-version": "2021-04-12" }, now);
    assert.deepEqual(ok, { ok: true, query: { category: "Connections", deviceId: "d1", since: now - 600_000, limit: 5 } });
    assert.deepEqual(parseLogQuery({}, now), { ok: true, query: { limit: 1000 } });
    for (const bad of [{ category: "Routes" }, { since: "soon" }, { limit: "0" }, { limit: "10001" }, { limit: "5x" }, { deviceId: "" }, { device: "d1" }, { since: ["1m", "2m"] }]) {
      const parsed = parseLogQuery(bad, now);
      assert.equal(parsed.ok, false, JSON.stringify(bad));
      assert.ok(!parsed.ok && parsed.message.length > 10);
    }
  });
});
