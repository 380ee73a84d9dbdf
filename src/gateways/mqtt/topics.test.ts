import { test } from "node:test";
import assert from "node:assert/strict";
import { isHubError } from "../../hub/index.js";
import {
  c2dTopic,
  desiredPatchTopic,
  grantQos,
  HUB_PUBLISH_QOS,
  methodRequestId,
  methodRequestTopic,
  parsePublishTopic,
  parseSubscribeFilter,
  twinResponseTopic,
  type PublishTarget,
} from "./topics.js";

const device = { deviceId: "dev1" };
const deviceWithEmptyModule = { deviceId: "dev1", moduleId: "" };
const module = { deviceId: "dev1", moduleId: "mod1" };

function kind(target: { readonly kind: string }): string {
  return target.kind;
}

function telemetry(target: PublishTarget): Extract<PublishTarget, { kind: "telemetry" }> {
  assert.equal(target.kind, "telemetry", JSON.stringify(target));
  return target as Extract<PublishTarget, { kind: "telemetry" }>;
}

test("parsePublishTopic() reads device telemetry with an empty bag, as the SDK sends it (trailing '/')", () => {
  assert.deepEqual(parsePublishTopic("devices/dev1/messages/events/", device), { kind: "telemetry", properties: { application: {}, system: {} } });
  assert.equal(kind(parsePublishTopic("devices/dev1/messages/events/", deviceWithEmptyModule)), "telemetry");
});

test("parsePublishTopic() accepts device telemetry without the slash after 'events'", () => {
  assert.equal(kind(parsePublishTopic("devices/dev1/messages/events", device)), "telemetry");
});

test("parsePublishTopic() reads the property bag of device telemetry", () => {
  const target = telemetry(parsePublishTopic("devices/dev1/messages/events/%24.mid=msg-1&k=v%2Fw", device));
  assert.deepEqual(target.properties, { application: { k: "v/w" }, system: { messageId: "msg-1" } });
});

test("parsePublishTopic() reads a module output event and drops the '/' after its bag (device-protocol.md §2.2)", () => {
  const target = telemetry(parsePublishTopic("devices/dev1/modules/mod1/messages/events/%24.on=output1&k=v/", module));
  assert.deepEqual(target.properties, { application: { k: "v" }, system: { outputName: "output1" } });
  assert.equal(kind(parsePublishTopic("devices/dev1/modules/mod1/messages/events/", module)), "telemetry");
});

test("parsePublishTopic() keeps a '/' inside the bag when a client leaves it unencoded", () => {
  const target = telemetry(parsePublishTopic("devices/dev1/messages/events/a=x/y/", device));
  assert.deepEqual(target.properties.application, { a: "x/y" });
});

test("parsePublishTopic() matches a percent-encoded id of the connected identity", () => {
  const odd = { deviceId: "dev 1?#+", moduleId: "m$1" };
  assert.equal(kind(parsePublishTopic("devices/dev 1?#+/modules/m$1/messages/events/", odd)), "telemetry");
  assert.equal(kind(parsePublishTopic("devices/dev%201%3F%23%2B/modules/m%241/messages/events/", odd)), "telemetry");
});

test("parsePublishTopic() forbids telemetry for another device, module or a wrong id case", () => {
  assert.equal(kind(parsePublishTopic("devices/dev2/messages/events/", device)), "forbidden");
  assert.equal(kind(parsePublishTopic("devices/DEV1/messages/events/", device)), "forbidden");
  assert.equal(kind(parsePublishTopic("devices/dev1/modules/mod2/messages/events/", module)), "forbidden");
  assert.equal(kind(parsePublishTopic("devices/dev2/modules/mod1/messages/events/", module)), "forbidden");
});

test("parsePublishTopic() forbids a device the module topic and a module the device topic", () => {
  assert.equal(kind(parsePublishTopic("devices/dev1/modules/mod1/messages/events/", device)), "forbidden");
  assert.equal(kind(parsePublishTopic("devices/dev1/messages/events/", module)), "forbidden");
});

test("parsePublishTopic() forbids topics the hub publishes and unknown topics", () => {
  for (const topic of [
    "devices/dev1/messages/devicebound/",
    "devices/dev1/messages/eventsx/",
    "devices/dev1",
    "devices/dev1/modules/mod1/inputs/in1/",
    "$iothub/twin/res/200/?$rid=1",
    "$iothub/twin/PATCH/properties/desired/?$version=2",
    "$iothub/methods/POST/reboot/?$rid=1",
    "$iothub/twin/GET/extra/?$rid=1",
    "$iothub/twin/get/?$rid=1",
    "$iothub/twin/PATCH/properties/reported/x/?$rid=1",
    "devices",
    "hello/world",
    "",
  ]) {
    assert.equal(kind(parsePublishTopic(topic, device)), "forbidden", topic);
  }
});

test("parsePublishTopic() lets a malformed telemetry bag through as ArgumentInvalid", () => {
  assert.throws(
    () => parsePublishTopic("devices/dev1/messages/events/a=1&a=2", device),
    (error: unknown) => isHubError(error) && error.errorName === "ArgumentInvalid",
  );
});

test("parsePublishTopic() reads a twin GET as the Node SDK sends it", () => {
  const rid = "3f2b1c4e-0d5a-4e6f-9a8b-7c6d5e4f3a2b";
  assert.deepEqual(parsePublishTopic(`$iothub/twin/GET/?$rid=${rid}`, device), { kind: "twinGet", rid });
  assert.deepEqual(parsePublishTopic("$iothub/twin/GET?$rid=7", module), { kind: "twinGet", rid: "7" });
});

test("parsePublishTopic() forbids a twin GET without a $rid", () => {
  assert.equal(kind(parsePublishTopic("$iothub/twin/GET/", device)), "forbidden");
  assert.equal(kind(parsePublishTopic("$iothub/twin/GET/?$rid=", device)), "forbidden");
  assert.equal(kind(parsePublishTopic("$iothub/twin/GET/?rid=1", device)), "forbidden");
  assert.equal(kind(parsePublishTopic("$iothub/twin/GET/?$rid=1&$rid=2", device)), "forbidden");
});

test("parsePublishTopic() keeps the $rid exactly as written, to echo it", () => {
  assert.deepEqual(parsePublishTopic("$iothub/twin/GET/?$rid=a%20b", device), { kind: "twinGet", rid: "a%20b" });
});

test("parsePublishTopic() reads a reported patch with and without $version and $rid", () => {
  assert.deepEqual(parsePublishTopic("$iothub/twin/PATCH/properties/reported/?$rid=r1", device), { kind: "twinReportedPatch", rid: "r1" });
  assert.deepEqual(parsePublishTopic("$iothub/twin/PATCH/properties/reported/?$rid=r1&$version=12", device), { kind: "twinReportedPatch", rid: "r1", version: 12 });
  assert.deepEqual(parsePublishTopic("$iothub/twin/PATCH/properties/reported/?$version=3&$rid=r2", device), { kind: "twinReportedPatch", rid: "r2", version: 3 });
  assert.deepEqual(parsePublishTopic("$iothub/twin/PATCH/properties/reported/", device), { kind: "twinReportedPatch" });
  assert.deepEqual(parsePublishTopic("$iothub/twin/PATCH/properties/reported/?$version=0", device), { kind: "twinReportedPatch", version: 0 });
});

test("parsePublishTopic() forbids a reported patch with a $version that is not a non-negative integer", () => {
  for (const version of ["-1", "1.5", "x", "", "1e3"]) {
    assert.equal(kind(parsePublishTopic(`$iothub/twin/PATCH/properties/reported/?$rid=r&$version=${version}`, device)), "forbidden", version);
  }
});

test("parsePublishTopic() reads a method response as the Node SDK sends it", () => {
  assert.deepEqual(parsePublishTopic("$iothub/methods/res/200/?$rid=1f", device), { kind: "methodResponse", status: 200, rid: "1f" });
  assert.deepEqual(parsePublishTopic("$iothub/methods/res/-3/?$rid=a", module), { kind: "methodResponse", status: -3, rid: "a" });
  assert.deepEqual(parsePublishTopic("$iothub/methods/res/404?$rid=b&other=1", device), { kind: "methodResponse", status: 404, rid: "b" });
});

test("parsePublishTopic() forbids a method response without an integer status or a $rid", () => {
  for (const topic of [
    "$iothub/methods/res/200/",
    "$iothub/methods/res/200/?$rid=",
    "$iothub/methods/res//?$rid=1",
    "$iothub/methods/res/2.5/?$rid=1",
    "$iothub/methods/res/NaN/?$rid=1",
    "$iothub/methods/res/99999999999/?$rid=1",
    "$iothub/methods/res/200/x/?$rid=1",
  ]) {
    assert.equal(kind(parsePublishTopic(topic, device)), "forbidden", topic);
  }
});

test("parseSubscribeFilter() recognises the filters the Node SDK subscribes to", () => {
  assert.deepEqual(parseSubscribeFilter("devices/dev1/messages/devicebound/#", device), { kind: "c2d" });
  assert.deepEqual(parseSubscribeFilter("$iothub/twin/res/#", device), { kind: "twinResponses" });
  assert.deepEqual(parseSubscribeFilter("$iothub/twin/PATCH/properties/desired/#", device), { kind: "desiredUpdates" });
  assert.deepEqual(parseSubscribeFilter("$iothub/methods/POST/#", device), { kind: "methods" });
  assert.deepEqual(parseSubscribeFilter("devices/dev1/modules/mod1/inputs/#", module), { kind: "moduleInputs" });
  assert.deepEqual(parseSubscribeFilter("$iothub/methods/POST/#", module), { kind: "methods" });
});

test("parseSubscribeFilter() accepts the Embedded C SDK's 'devices/+/…' C2D filter and the documented module filter", () => {
  assert.deepEqual(parseSubscribeFilter("devices/+/messages/devicebound/#", device), { kind: "c2d" });
  assert.deepEqual(parseSubscribeFilter("devices/dev1/modules/mod1/#", module), { kind: "moduleInputs" });
  assert.deepEqual(parseSubscribeFilter("devices/dev%201/messages/devicebound/#", { deviceId: "dev 1" }), { kind: "c2d" });
});

test("parseSubscribeFilter() forbids other identities, modules on C2D, devices on module inputs and undocumented filters", () => {
  const cases: Array<[string, { deviceId: string; moduleId?: string }]> = [
    ["devices/dev2/messages/devicebound/#", device],
    ["devices/dev1/messages/devicebound/#", module],
    ["devices/+/messages/devicebound/#", module],
    ["devices/dev1/modules/mod1/inputs/#", device],
    ["devices/dev1/modules/mod2/inputs/#", module],
    ["devices/dev1/modules/+/inputs/#", module],
    ["devices/dev1/messages/devicebound/+", device],
    ["devices/dev1/messages/devicebound", device],
    ["devices/dev1/#", device],
    ["#", device],
    ["$iothub/#", device],
    ["$iothub/twin/res/+", device],
    ["$iothub/twin/res/200/#", device],
    ["$iothub/twin/PATCH/properties/desired", device],
    ["$iothub/methods/POST/reboot", device],
    ["$iothub/methods/res/#", device],
    ["", device],
  ];
  for (const [filter, identity] of cases) assert.equal(kind(parseSubscribeFilter(filter, identity)), "forbidden", filter);
});

test("c2dTopic() always writes the '/' after 'devicebound' and none after the bag", () => {
  assert.equal(c2dTopic(device, ""), "devices/dev1/messages/devicebound/");
  assert.equal(c2dTopic(device, "%24.mid=m&iothub-ack=none"), "devices/dev1/messages/devicebound/%24.mid=m&iothub-ack=none");
});

test("twinResponseTopic() writes $rid, then $version when given", () => {
  assert.equal(twinResponseTopic(200, "r1"), "$iothub/twin/res/200/?$rid=r1");
  assert.equal(twinResponseTopic(204, "r1", 6), "$iothub/twin/res/204/?$rid=r1&$version=6");
  assert.equal(twinResponseTopic(429, "a%20b"), "$iothub/twin/res/429/?$rid=a%20b");
  assert.throws(() => twinResponseTopic(20, "r"), RangeError);
  assert.throws(() => twinResponseTopic(200.5, "r"), RangeError);
  assert.throws(() => twinResponseTopic(200, ""), RangeError);
  assert.throws(() => twinResponseTopic(204, "r", -1), RangeError);
});

test("desiredPatchTopic() writes the new desired $version", () => {
  assert.equal(desiredPatchTopic(8), "$iothub/twin/PATCH/properties/desired/?$version=8");
  assert.throws(() => desiredPatchTopic(1.5), RangeError);
});

test("methodRequestTopic() writes the name raw and refuses names that break the topic", () => {
  assert.equal(methodRequestTopic("reboot", "1f"), "$iothub/methods/POST/reboot/?$rid=1f");
  assert.equal(methodRequestTopic("set:mode;2", "a"), "$iothub/methods/POST/set:mode;2/?$rid=a");
  for (const name of ["", "a/b", "a?b", "a#b", "a+b", "a\u0000b"]) {
    assert.throws(() => methodRequestTopic(name, "1"), (error: unknown) => isHubError(error) && error.errorName === "ArgumentInvalid", JSON.stringify(name));
  }
  assert.throws(() => methodRequestTopic("reboot", ""), RangeError);
});

test("methodRequestId() numbers requests from 1 in lower-case hex, like the real hub", () => {
  assert.deepEqual([1, 9, 10, 11, 255, 256].map(methodRequestId), ["1", "9", "a", "b", "ff", "100"]);
  assert.throws(() => methodRequestId(0), RangeError);
});

test("HUB_PUBLISH_QOS sends C2D at QoS 1 and twin and method traffic at QoS 0; SUBACK grants at most 1", () => {
  assert.deepEqual(HUB_PUBLISH_QOS, { c2d: 1, moduleInput: 1, twinResponse: 0, desiredPatch: 0, methodRequest: 0 });
  assert.deepEqual([grantQos(0), grantQos(1), grantQos(2)], [0, 1, 1]);
});
