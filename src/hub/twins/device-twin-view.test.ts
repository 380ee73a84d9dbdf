import { test } from "node:test";
import assert from "node:assert/strict";
import { deviceTwinView } from "./device-twin-view.js";
import { newTwinRecord } from "./new-twin-record.js";
import { patchReported } from "./patch-reported.js";
import { patchTwin } from "./patch-twin.js";

const T0 = Date.UTC(2024, 0, 1, 0, 0, 0, 0);

test("deviceTwinView() of a fresh twin is just the two $versions", () => {
  assert.deepEqual(deviceTwinView(newTwinRecord(T0)), { desired: { $version: 1 }, reported: { $version: 1 } });
});

test("deviceTwinView() carries values and $version, never $metadata or tags", () => {
  let twin = patchTwin(newTwinRecord(T0), { tags: { secret: 1 }, properties: { desired: { a: { b: 1 } } } }, T0 + 1000).twin;
  twin = patchReported(twin, { fw: "1.0" }, T0 + 2000);
  const view = deviceTwinView(twin);
  assert.deepEqual(view, { desired: { a: { b: 1 }, $version: 2 }, reported: { fw: "1.0", $version: 2 } });
  assert.deepEqual(Object.keys(view), ["desired", "reported"]);
});

test("deviceTwinView() shares no nodes with the record", () => {
  const twin = patchTwin(newTwinRecord(T0), { properties: { desired: { a: { b: 1 } } } }, T0 + 1000).twin;
  (deviceTwinView(twin).desired["a"] as Record<string, unknown>)["b"] = 2;
  assert.deepEqual(twin.desired["a"], { b: 1 });
});
