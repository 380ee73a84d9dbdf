import { test } from "node:test";
import assert from "node:assert/strict";
import { partitionOf } from "./partition-of.js";

/** FNV-1a over the UTF-8 bytes, written the plain way: what the partition of a device has always been. */
function reference(deviceId: string, partitionCount: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(deviceId, "utf8")) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash % partitionCount;
}

test("a device's partition is FNV-1a of its UTF-8 id, ASCII or not, for any partition count", () => {
  const ids = ["d", "dev-0001", "Dev-0001", "sensor:42;x=y", "a".repeat(128), "ünïcödé", "日本語のデバイス", "mixed-é-1", "\u007f", "😀"];
  for (const id of ids) {
    for (const count of [1, 2, 4, 32]) assert.equal(partitionOf(id, count), reference(id, count), `${id} over ${count}`);
  }
  // Pinned: stored telemetry is partitioned by this, so it must never change.
  assert.equal(partitionOf("device1", 4), 2);
});
