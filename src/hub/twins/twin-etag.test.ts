import { test } from "node:test";
import assert from "node:assert/strict";
import { newTwinRecord } from "./new-twin-record.js";
import { twinEtag } from "./twin-etag.js";

function withCounter(etagVersion: number) {
  return { ...newTwinRecord(0), etagVersion };
}

test("twinEtag() is base64 of the counter as 8 big-endian bytes (the captured values)", () => {
  assert.equal(twinEtag(withCounter(1)), "AAAAAAAAAAE=");
  assert.equal(twinEtag(withCounter(7)), "AAAAAAAAAAc=");
  assert.equal(twinEtag(withCounter(22)), "AAAAAAAAABY=");
});

test("twinEtag() encodes counters beyond 32 bits", () => {
  assert.equal(twinEtag(withCounter(2 ** 40 + 1)), "AAABAAAAAAE=");
});

test("twinEtag() follows etagVersion, not version", () => {
  assert.equal(twinEtag({ ...newTwinRecord(0), version: 40, etagVersion: 1 }), "AAAAAAAAAAE=");
});
