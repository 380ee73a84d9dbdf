import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isHubError } from "../errors/index.js";
import { newTwinRecord } from "./new-twin-record.js";
import { patchReported } from "./patch-reported.js";
import { twinEtag } from "./twin-etag.js";

const T0 = Date.UTC(2024, 0, 1, 0, 0, 0, 0);
const T1 = Date.UTC(2024, 0, 1, 0, 0, 1, 0);
const T2 = Date.UTC(2024, 0, 1, 0, 0, 2, 0);
const S0 = "2024-01-01T00:00:00.0000000Z";
const S1 = "2024-01-01T00:00:01.0000000Z";
const S2 = "2024-01-01T00:00:02.0000000Z";

function assertInvalid(action: () => unknown, mention?: string): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(isHubError(error), `expected a HubError, got ${String(error)}`);
    assert.equal(error.errorName, "ArgumentInvalid");
    if (mention !== undefined) assert.ok(error.message.includes(mention), `message should name ${mention}: ${error.message}`);
    return true;
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function valuesOf(section: Record<string, unknown>): Record<string, unknown> {
  const { $metadata, $version, ...values } = section;
  assert.ok($metadata !== undefined && $version !== undefined);
  return values;
}

describe("patchReported()", () => {
  test("merges into reported and leaves tags and desired alone", () => {
    const fresh = newTwinRecord(T0);
    const once = patchReported(fresh, { fw: "1.0", net: { type: "wifi", rssi: -40 } }, T1);
    const twice = patchReported(once, { fw: "1.1", net: { rssi: null } }, T2);
    assert.deepEqual(valuesOf(twice.reported), { fw: "1.1", net: { type: "wifi" } });
    assert.deepEqual(twice.tags, fresh.tags);
    assert.deepEqual(twice.desired, fresh.desired);
  });

  test("bumps version and reported $version but not the etag", () => {
    const twin = patchReported(newTwinRecord(T0), { a: 1 }, T1);
    assert.equal(twin.version, 3);
    assert.equal(twin.reported["$version"], 2);
    assert.equal(twin.desired["$version"], 1);
    assert.equal(twin.etagVersion, 1);
    assert.equal(twinEtag(twin), "AAAAAAAAAAE=");
  });

  test("counts a re-report of identical values as a write", () => {
    const once = patchReported(newTwinRecord(T0), { a: 1 }, T1);
    const twice = patchReported(once, { a: 1 }, T2);
    assert.equal(twice.version, once.version + 1);
    assert.equal(twice.reported["$version"], 3);
  });

  test("{x:null} for a missing x creates nothing; {x:{y:null}} leaves x as {}, twice over (.NET e2e)", () => {
    const none = patchReported(newTwinRecord(T0), { x: null }, T1);
    assert.deepEqual(valuesOf(none.reported), {});
    const once = patchReported(newTwinRecord(T0), { x: { y: null } }, T1);
    const twice = patchReported(once, { x: { y: null } }, T2);
    assert.deepEqual(valuesOf(once.reported), { x: {} });
    assert.deepEqual(valuesOf(twice.reported), { x: {} });
  });

  test("stamps only $lastUpdated on reported metadata, refreshing touched nodes and the root", () => {
    const once = patchReported(newTwinRecord(T0), { a: { b: 1, c: 2 }, d: 1 }, T1);
    const twice = patchReported(once, { a: { c: 3 } }, T2);
    assert.deepEqual(twice.reported["$metadata"], {
      $lastUpdated: S2,
      a: { $lastUpdated: S2, b: { $lastUpdated: S1 }, c: { $lastUpdated: S2 } },
      d: { $lastUpdated: S1 },
    });
  });

  test("keeps values before $metadata and $version in the stored section", () => {
    const twin = patchReported(newTwinRecord(T0), { z: 1, a: 2 }, T1);
    assert.deepEqual(Object.keys(twin.reported), ["z", "a", "$metadata", "$version"]);
  });

  test("rejects a patch holding any $ key as a whole, storing nothing of it", () => {
    const twin = deepFreeze(newTwinRecord(T0));
    assertInvalid(() => patchReported(twin, { a: 1, $version: 1 }, T1), "$version");
    assertInvalid(() => patchReported(twin, { a: { $b: 1 } }, T1), "properties.reported.a");
    assert.deepEqual(twin.reported, { $metadata: { $lastUpdated: S0 }, $version: 1 });
  });

  test("rejects a patch that is not a JSON object", () => {
    for (const patch of [null, [], "x", 1]) assertInvalid(() => patchReported(newTwinRecord(T0), patch, T1));
  });

  test("applies the value rules: arrays allowed, null inside arrays rejected, integers range-checked", () => {
    patchReported(newTwinRecord(T0), { list: [1, "s", false, { Id: 123, Name: "n" }] }, T1);
    assertInvalid(() => patchReported(newTwinRecord(T0), { list: [1, null] }, T1), "properties.reported.list[1]");
    assertInvalid(() => patchReported(newTwinRecord(T0), { big: 4503599627370496 }, T1), "properties.reported.big");
  });

  test("rejects a patch that would push reported over 32 KB", () => {
    const patch: Record<string, unknown> = {};
    for (let i = 0; i < 8; i++) patch[`k${i}`] = "x".repeat(4000);
    const full = patchReported(newTwinRecord(T0), patch, T1); // 8 × 4002 = 32016 bytes
    assertInvalid(() => patchReported(full, { more: "x".repeat(1000) }, T2), "'Properties.Reported' size should be less than 32768 bytes.");
  });

  test("never modifies the input record or the patch", () => {
    const twin = deepFreeze(patchReported(newTwinRecord(T0), { a: { b: 1 } }, T1));
    const patch = deepFreeze({ a: { c: [1] }, b: null });
    const before = structuredClone(twin);
    const next = patchReported(twin, patch, T2);
    assert.deepEqual(twin, before);
    assert.deepEqual(JSON.parse(JSON.stringify(next)), next);
  });
});
