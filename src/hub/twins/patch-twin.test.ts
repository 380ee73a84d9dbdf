import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TwinRecord } from "../ports/store.js";
import { isHubError } from "../errors/index.js";
import { newTwinRecord } from "./new-twin-record.js";
import { patchTwin } from "./patch-twin.js";
import { twinEtag } from "./twin-etag.js";

const T0 = Date.UTC(2024, 0, 1, 0, 0, 0, 0);
const T1 = Date.UTC(2024, 0, 1, 0, 0, 1, 0);
const T2 = Date.UTC(2024, 0, 1, 0, 0, 2, 0);
const T3 = Date.UTC(2024, 0, 1, 0, 0, 3, 0);
const S1 = "2024-01-01T00:00:01.0000000Z";
const S2 = "2024-01-01T00:00:02.0000000Z";
const S3 = "2024-01-01T00:00:03.0000000Z";

function assertInvalid(action: () => unknown, mention?: string): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(isHubError(error), `expected a HubError, got ${String(error)}`);
    assert.equal(error.errorName, "ArgumentInvalid");
    if (mention !== undefined) assert.ok(error.message.includes(mention), `message should name ${mention}: ${error.message}`);
    return true;
  });
}

/** Freezes a record all the way down, so any write to the input throws (ES modules run in strict mode). */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Applies patches in order from a fresh twin created at T0. */
function twinAfter(...patches: unknown[]): TwinRecord {
  let twin = newTwinRecord(T0);
  patches.forEach((patch, index) => {
    twin = patchTwin(twin, patch, T0 + (index + 1) * 1000).twin;
  });
  return twin;
}

describe("patchTwin(): merging", () => {
  test("deep-merges tags and desired, and leaves reported alone", () => {
    const twin = twinAfter({ tags: { site: { building: 43 } }, properties: { desired: { cfg: { rate: 5, mode: "a" } } } });
    const { twin: next } = patchTwin(twin, { tags: { site: { floor: 1 } }, properties: { desired: { cfg: { rate: null, on: true } } } }, T2);
    assert.deepEqual(next.tags, { site: { building: 43, floor: 1 } });
    const { $metadata, $version, ...desiredValues } = next.desired;
    assert.deepEqual(desiredValues, { cfg: { mode: "a", on: true } });
    assert.equal($version, 3);
    assert.ok($metadata);
    assert.deepEqual(next.reported, twin.reported);
  });

  test("null on a missing key is a no-op; {a:{b:null}} creates a as {}", () => {
    const { twin } = patchTwin(newTwinRecord(T0), { properties: { desired: { gone: null, a: { b: null } } } }, T1);
    assert.deepEqual(twin.desired["a"], {});
    assert.equal(Object.hasOwn(twin.desired, "gone"), false);
  });

  test("desired: null removes every desired property", () => {
    const twin = twinAfter({ properties: { desired: { a: 1, b: { c: 2 } } } });
    const { twin: next } = patchTwin(twin, { properties: { desired: null } }, T2);
    assert.deepEqual(next.desired, { $metadata: { $lastUpdated: S2, $lastUpdatedVersion: 3 }, $version: 3 });
  });

  test("tags: null removes every tag", () => {
    const twin = twinAfter({ tags: { a: 1, b: { c: 2 } } });
    assert.deepEqual(patchTwin(twin, { tags: null }, T2).twin.tags, {});
  });

  test("ignores top-level fields the SDKs echo back (deviceId, etag, version, status, …)", () => {
    const { twin } = patchTwin(
      newTwinRecord(T0),
      { deviceId: "other", etag: "AAAAAAAAAAk=", version: 99, status: "disabled", tags: { a: 1 }, properties: { desired: {}, extra: 1 } },
      T1,
    );
    assert.deepEqual(twin.tags, { a: 1 });
    assert.equal(twin.version, 3);
  });

  test("accepts an empty or null 'reported' (the Node job e2e sends reported: {})", () => {
    patchTwin(newTwinRecord(T0), { properties: { desired: { a: 1 }, reported: {} } }, T1);
    patchTwin(newTwinRecord(T0), { properties: { desired: { a: 1 }, reported: null } }, T1);
  });
});

describe("patchTwin(): versions and etag", () => {
  test("a tags and desired patch bumps version and the etag once, and desired $version once", () => {
    const fresh = newTwinRecord(T0);
    const { twin } = patchTwin(fresh, { tags: { a: 1 }, properties: { desired: { b: 2 } } }, T1);
    assert.equal(twin.version, 3);
    assert.equal(twin.etagVersion, 2);
    assert.equal(twinEtag(twin), "AAAAAAAAAAI=");
    assert.equal(twin.desired["$version"], 2);
    assert.equal(twin.reported["$version"], 1);
  });

  test("a tags-only patch bumps version and the etag but not desired $version, and notifies nobody", () => {
    const { twin, desiredNotification } = patchTwin(newTwinRecord(T0), { tags: { a: 1 } }, T1);
    assert.equal(twin.version, 3);
    assert.equal(twin.etagVersion, 2);
    assert.equal(twin.desired["$version"], 1);
    assert.deepEqual(twin.desired, newTwinRecord(T0).desired);
    assert.equal(desiredNotification, undefined);
  });

  test("a write that changes nothing still counts", () => {
    const twin = twinAfter({ properties: { desired: { a: 1 } } });
    const { twin: next, desiredNotification } = patchTwin(twin, { properties: { desired: { a: 1 } } }, T2);
    assert.equal(next.version, twin.version + 1);
    assert.equal(next.etagVersion, twin.etagVersion + 1);
    assert.equal(next.desired["$version"], 3);
    assert.deepEqual(desiredNotification, { a: 1, $version: 3 });
  });

  test("an empty desired object is still a desired write", () => {
    const { twin, desiredNotification } = patchTwin(newTwinRecord(T0), { properties: { desired: {} } }, T1);
    assert.equal(twin.desired["$version"], 2);
    assert.deepEqual(desiredNotification, { $version: 2 });
  });

  test("a body that touches neither section is not a write", () => {
    const fresh = newTwinRecord(T0);
    for (const body of [{}, { deviceId: "d" }, { properties: {} }, { properties: { reported: {} } }]) {
      const { twin, desiredNotification } = patchTwin(fresh, body, T1);
      assert.deepEqual(twin, fresh);
      assert.equal(desiredNotification, undefined);
    }
  });
});

describe("patchTwin(): desired notification", () => {
  test("is the patch as sent plus $version, without metadata", () => {
    const twin = twinAfter({ properties: { desired: { a: 1, o: { x: 1 } } } });
    const { desiredNotification } = patchTwin(twin, { properties: { desired: { a: null, o: { y: [1, 2] } } } }, T2);
    assert.deepEqual(desiredNotification, { a: null, o: { y: [1, 2] }, $version: 3 });
  });

  test("after desired: null, lists every removed top-level key as null", () => {
    const twin = twinAfter({ properties: { desired: { a: 1, b: { c: 2 } } } });
    const { desiredNotification } = patchTwin(twin, { properties: { desired: null } }, T2);
    assert.deepEqual(desiredNotification, { a: null, b: null, $version: 3 });
  });
});

describe("patchTwin(): $metadata", () => {
  test("stamps every written node and the root with $lastUpdated and $lastUpdatedVersion (reference example)", () => {
    const { twin } = patchTwin(newTwinRecord(T0), { properties: { desired: { a: { b: 1 } } } }, T1);
    assert.deepEqual(twin.desired, {
      a: { b: 1 },
      $metadata: {
        $lastUpdated: S1,
        $lastUpdatedVersion: 2,
        a: { $lastUpdated: S1, $lastUpdatedVersion: 2, b: { $lastUpdated: S1, $lastUpdatedVersion: 2 } },
      },
      $version: 2,
    });
  });

  test("refreshes touched nodes and their ancestors, keeps untouched nodes, and drops deleted ones", () => {
    let twin = twinAfter({ properties: { desired: { a: { b: 1, c: 2 }, d: 3 } } }); // desired $version 2 at S1
    twin = patchTwin(twin, { properties: { desired: { a: { c: 5 } } } }, T2).twin; // $version 3
    twin = patchTwin(twin, { properties: { desired: { a: { b: null } } } }, T3).twin; // $version 4
    assert.deepEqual(twin.desired["$metadata"], {
      $lastUpdated: S3,
      $lastUpdatedVersion: 4,
      a: {
        $lastUpdated: S3,
        $lastUpdatedVersion: 4,
        c: { $lastUpdated: S2, $lastUpdatedVersion: 3 },
      },
      d: { $lastUpdated: S1, $lastUpdatedVersion: 2 },
    });
  });

  test("mirrors the new shape when an object replaces a leaf, and an array is a single leaf", () => {
    let twin = twinAfter({ properties: { desired: { a: "text", o: { x: 1 } } } });
    twin = patchTwin(twin, { properties: { desired: { a: { k: [1, 2] }, o: 7 } } }, T2).twin;
    const meta = twin.desired["$metadata"] as Record<string, unknown>;
    assert.deepEqual(meta["a"], { $lastUpdated: S2, $lastUpdatedVersion: 3, k: { $lastUpdated: S2, $lastUpdatedVersion: 3 } });
    assert.deepEqual(meta["o"], { $lastUpdated: S2, $lastUpdatedVersion: 3 });
  });

  test("drops configuration marks from leaves a service write touches, and keeps them on the others", () => {
    const twin = twinAfter({ properties: { desired: { a: 1, b: 2 } } });
    const marked = structuredClone(twin);
    const meta = marked.desired["$metadata"] as Record<string, Record<string, unknown>>;
    for (const key of ["a", "b"]) Object.assign(meta[key]!, { $lastUpdatedBy: "cfg1", $lastUpdatedByDigest: "637437909497411972" });
    const next = patchTwin(marked, { properties: { desired: { a: 5 } } }, T2).twin;
    const nextMeta = next.desired["$metadata"] as Record<string, unknown>;
    assert.deepEqual(nextMeta["a"], { $lastUpdated: S2, $lastUpdatedVersion: 3 });
    assert.deepEqual(nextMeta["b"], { $lastUpdated: S1, $lastUpdatedVersion: 2, $lastUpdatedBy: "cfg1", $lastUpdatedByDigest: "637437909497411972" });
  });

  test("keeps tags free of metadata", () => {
    const { twin } = patchTwin(newTwinRecord(T0), { tags: { a: { b: 1 } } }, T1);
    assert.deepEqual(twin.tags, { a: { b: 1 } });
  });
});

describe("patchTwin(): validation", () => {
  test("rejects a body that is not a JSON object", () => {
    for (const body of [null, undefined, [], "text", 5, true]) assertInvalid(() => patchTwin(newTwinRecord(T0), body, T1));
  });

  test("rejects sections of the wrong type", () => {
    assertInvalid(() => patchTwin(newTwinRecord(T0), { tags: [1] }, T1), "'tags'");
    assertInvalid(() => patchTwin(newTwinRecord(T0), { tags: "x" }, T1), "'tags'");
    assertInvalid(() => patchTwin(newTwinRecord(T0), { properties: [] }, T1), "'properties'");
    assertInvalid(() => patchTwin(newTwinRecord(T0), { properties: { desired: 5 } }, T1), "'properties.desired'");
  });

  test("rejects a non-empty reported section: only devices write reported", () => {
    assertInvalid(() => patchTwin(newTwinRecord(T0), { properties: { reported: { a: 1 } } }, T1), "properties.reported");
    assertInvalid(() => patchTwin(newTwinRecord(T0), { properties: { reported: [] } }, T1), "properties.reported");
  });

  test("rejects $ keys, such as $version or $metadata copied from a GET", () => {
    assertInvalid(() => patchTwin(newTwinRecord(T0), { properties: { desired: { a: 1, $version: 1 } } }, T1), "$version");
    assertInvalid(() => patchTwin(newTwinRecord(T0), { properties: { desired: { $metadata: {} } } }, T1), "$metadata");
    assertInvalid(() => patchTwin(newTwinRecord(T0), { tags: { $etag: "1" } }, T1), "$etag");
  });

  test("names the offending key and path", () => {
    assertInvalid(() => patchTwin(newTwinRecord(T0), { properties: { desired: { outer: { "a.b": 1 } } } }, T1), "Twin key 'a.b' in 'properties.desired.outer'");
  });

  test("checks the merged size: a patch that pushes desired over 32 KB fails", () => {
    const big = { properties: { desired: { a: "x".repeat(4000), b: "x".repeat(4000), c: "x".repeat(4000), d: "x".repeat(4000) } } };
    const more = { properties: { desired: { e: "x".repeat(4000), f: "x".repeat(4000), g: "x".repeat(4000), h: "x".repeat(4000) } } };
    const twin = twinAfter(big, more); // 8 × 4001 = 32008 bytes
    assertInvalid(() => patchTwin(twin, { properties: { desired: { i: "x".repeat(800) } } }, T3), "'Properties.Desired' size should be less than 32768 bytes.");
    patchTwin(twin, { properties: { desired: { a: null, i: "x".repeat(800) } } }, T3); // fits once `a` is gone
  });

  test("checks the merged tags size against 8 KB", () => {
    const twin = twinAfter({ tags: { a: "x".repeat(4000), b: "x".repeat(4000) } });
    assertInvalid(() => patchTwin(twin, { tags: { c: "x".repeat(400) } }, T2), "'Tags' size should be less than 8192 bytes.");
  });

  test("rejects depth, string, integer and array-null violations", () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 11; i++) deep = { n: deep };
    assertInvalid(() => patchTwin(newTwinRecord(T0), { properties: { desired: deep } }, T1), "10 levels");
    assertInvalid(() => patchTwin(newTwinRecord(T0), { tags: { s: "x".repeat(4097) } }, T1), "tags.s");
    assertInvalid(() => patchTwin(newTwinRecord(T0), { tags: { n: 2 ** 53 } }, T1), "tags.n");
    assertInvalid(() => patchTwin(newTwinRecord(T0), { properties: { desired: { a: [null] } } }, T1), "properties.desired.a[0]");
  });

  test("an invalid part fails the whole patch and changes nothing", () => {
    const twin = deepFreeze(twinAfter({ tags: { keep: 1 }, properties: { desired: { keep: 1 } } }));
    const before = structuredClone(twin);
    assertInvalid(() => patchTwin(twin, { tags: { ok: 1 }, properties: { desired: { fine: 1, "bad key": 2 } } }, T2));
    assertInvalid(() => patchTwin(twin, { tags: { ok: 1, "$x": 1 }, properties: { desired: { fine: 1 } } }, T2));
    assert.deepEqual(twin, before);
  });
});

describe("patchTwin(): purity", () => {
  test("never modifies the input record or the patch", () => {
    const twin = deepFreeze(twinAfter({ tags: { t: { u: 1 } }, properties: { desired: { a: { b: 1 } } } }));
    const patch = deepFreeze({ tags: { t: { v: 2 } }, properties: { desired: { a: { c: [1] }, d: null } } });
    const before = structuredClone(twin);
    patchTwin(twin, patch, T2);
    patchTwin(twin, { tags: null, properties: { desired: null } }, T2);
    assert.deepEqual(twin, before);
  });

  test("returns records that share no nodes with the input and survive a JSON round trip", () => {
    const patch = { tags: { arr: [{ k: 1 }] }, properties: { desired: { o: { x: 1 } } } };
    const twin = twinAfter({ tags: { keep: { deep: 1 } } });
    const { twin: next, desiredNotification } = patchTwin(twin, patch, T2);
    (next.tags["keep"] as Record<string, unknown>)["deep"] = 2;
    (next.tags["arr"] as Array<Record<string, unknown>>)[0]!["k"] = 2;
    (desiredNotification!["o"] as Record<string, unknown>)["x"] = 2;
    assert.deepEqual(twin.tags, { keep: { deep: 1 } });
    assert.deepEqual(patch.tags.arr, [{ k: 1 }]);
    assert.deepEqual(patch.properties.desired.o, { x: 1 });
    assert.deepEqual(JSON.parse(JSON.stringify(next)), next);
  });
});
