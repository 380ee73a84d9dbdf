import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isHubError } from "../errors/index.js";
import { newTwinRecord } from "./new-twin-record.js";
import { patchReported } from "./patch-reported.js";
import { patchTwin } from "./patch-twin.js";
import { replaceTwin } from "./replace-twin.js";

const T0 = Date.UTC(2024, 0, 1, 0, 0, 0, 0);
const T1 = Date.UTC(2024, 0, 1, 0, 0, 1, 0);
const T2 = Date.UTC(2024, 0, 1, 0, 0, 2, 0);
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

/** A twin with tags, desired {a, b:{c, d}} at desired $version 2, and one reported write. */
function populatedTwin() {
  const { twin } = patchTwin(newTwinRecord(T0), { tags: { old: 1 }, properties: { desired: { a: 1, b: { c: 2, d: 3 } } } }, T1);
  return patchReported(twin, { r: 1 }, T1);
}

describe("replaceTwin()", () => {
  test("replaces tags and desired wholesale and leaves reported untouched", () => {
    const twin = populatedTwin();
    const { twin: next } = replaceTwin(twin, { tags: { fresh: true }, properties: { desired: { b: { c: 9 }, e: [1] } } }, T2);
    assert.deepEqual(next.tags, { fresh: true });
    const { $metadata, $version, ...values } = next.desired;
    assert.deepEqual(values, { b: { c: 9 }, e: [1] });
    assert.equal($version, 3);
    assert.ok($metadata);
    assert.deepEqual(next.reported, twin.reported);
  });

  test("bumps version and the etag once and desired $version once", () => {
    const twin = populatedTwin(); // version 4, etag 2, desired 2, reported 2
    const { twin: next } = replaceTwin(twin, { tags: {}, properties: { desired: {} } }, T2);
    assert.equal(next.version, twin.version + 1);
    assert.equal(next.etagVersion, twin.etagVersion + 1);
    assert.equal(next.desired["$version"], 3);
    assert.equal(next.reported["$version"], twin.reported["$version"]);
  });

  test("treats a missing or null section as empty: PUT replaces both", () => {
    const twin = populatedTwin();
    const { twin: next } = replaceTwin(twin, { tags: null }, T2);
    assert.deepEqual(next.tags, {});
    assert.deepEqual(next.desired, { $metadata: { $lastUpdated: S2, $lastUpdatedVersion: 3 }, $version: 3 });
  });

  test("rebuilds desired $metadata for every node at the new $version", () => {
    const { twin } = replaceTwin(populatedTwin(), { properties: { desired: { a: 1, b: { c: 2 } } } }, T2);
    const stamp = { $lastUpdated: S2, $lastUpdatedVersion: 3 };
    assert.deepEqual(twin.desired["$metadata"], { ...stamp, a: { ...stamp }, b: { ...stamp, c: { ...stamp } } });
  });

  test("drops null members of the replacement instead of storing them", () => {
    const { twin } = replaceTwin(newTwinRecord(T0), { properties: { desired: { a: null, b: { c: null } } } }, T1);
    const { $metadata, $version, ...values } = twin.desired;
    assert.deepEqual(values, { b: {} });
    assert.ok($metadata && $version);
  });

  test("notifies the new values, every removed top-level key as null, and keys removed inside kept objects", () => {
    const { desiredNotification } = replaceTwin(populatedTwin(), { properties: { desired: { b: { c: 2 }, e: 5 } } }, T2);
    assert.deepEqual(desiredNotification, { b: { c: 2, d: null }, e: 5, a: null, $version: 3 });
  });

  test("the notification, merged the way the Node device SDK merges, yields the new desired values", () => {
    const previous = { a: 1, b: { c: 2, d: 3 } };
    const { desiredNotification } = replaceTwin(populatedTwin(), { properties: { desired: { b: { c: 2 }, e: 5 } } }, T2);
    const cache = mergeDroppingNulls(structuredClone(previous), desiredNotification!);
    delete cache["$version"];
    assert.deepEqual(cache, { b: { c: 2 }, e: 5 });
  });

  test("validates like a patch, including 'reported', and changes nothing on failure", () => {
    const twin = deepFreeze(populatedTwin());
    const before = structuredClone(twin);
    assertInvalid(() => replaceTwin(twin, [], T2));
    assertInvalid(() => replaceTwin(twin, { tags: { "a.b": 1 } }, T2), "a.b");
    assertInvalid(() => replaceTwin(twin, { properties: { desired: { $version: 4 } } }, T2), "$version");
    assertInvalid(() => replaceTwin(twin, { properties: { reported: { r: 2 } } }, T2), "properties.reported");
    assertInvalid(() => replaceTwin(twin, { tags: { a: "x".repeat(4095), b: "x".repeat(4096) } }, T2), "'Tags' size");
    assert.deepEqual(twin, before);
  });
});

/** What the Node device SDK's Twin._mergePatch does: lodash-style deep merge, then delete null leaves. */
function mergeDroppingNulls(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (value === null) delete target[key];
    else if (typeof value === "object" && !Array.isArray(value) && typeof current === "object" && current !== null && !Array.isArray(current)) {
      mergeDroppingNulls(current as Record<string, unknown>, value as Record<string, unknown>);
    } else target[key] = structuredClone(value);
  }
  return target;
}
