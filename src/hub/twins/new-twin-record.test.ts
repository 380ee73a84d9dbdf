import { test } from "node:test";
import assert from "node:assert/strict";
import { newTwinRecord } from "./new-twin-record.js";
import { twinEtag } from "./twin-etag.js";

const NOW = Date.UTC(2019, 2, 7, 20, 7, 53, 538);

test("newTwinRecord() matches the captured fresh twin: version 2, etag counter 1, $version 1 on both sides", () => {
  const twin = newTwinRecord(NOW);
  assert.deepEqual(twin, {
    version: 2,
    etagVersion: 1,
    tags: {},
    desired: { $metadata: { $lastUpdated: "2019-03-07T20:07:53.5380000Z" }, $version: 1 },
    reported: { $metadata: { $lastUpdated: "2019-03-07T20:07:53.5380000Z" }, $version: 1 },
  });
  assert.equal(twinEtag(twin), "AAAAAAAAAAE=");
});

test("newTwinRecord() returns independent records that survive a JSON round trip", () => {
  const a = newTwinRecord(NOW);
  const b = newTwinRecord(NOW);
  assert.notEqual(a.desired, b.desired);
  assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
});
