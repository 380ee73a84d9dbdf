import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import iothub from "azure-iothub";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest } from "./harness/service-request.js";

const { Registry } = iothub;
type Json = Record<string, any>;

describe("twins through azure-iothub Registry", () => {
  let hub: TestHub;
  // The SDK's typings lag its JSON (no deviceScope, no authentication.type): read replies as plain JSON.
  let registry: any;

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
  });
  after(() => hub.dispose());

  test("a fresh twin has IoT Hub's shape", async () => {
    const { responseBody: device } = await registry.create({ deviceId: "twin-fresh" });
    const { responseBody: twin } = await registry.getTwin("twin-fresh");
    const raw = twin as unknown as Json;
    assert.equal(twin.deviceId, "twin-fresh");
    assert.equal(twin.etag, "AAAAAAAAAAE=");
    assert.equal(raw["deviceEtag"], device.etag);
    assert.equal(raw["status"], "enabled");
    assert.equal(raw["version"], 2);
    assert.equal(twin.properties.desired["$version"], 1);
    assert.equal(twin.properties.reported["$version"], 1);
    assert.ok(twin.properties.desired["$metadata"]["$lastUpdated"]);
  });

  test("updateTwin merges tags and desired, null removes, versions grow", async () => {
    await registry.create({ deviceId: "twin-patch" });
    const { responseBody: first } = await registry.updateTwin("twin-patch", { tags: { site: "north", floor: 1 }, properties: { desired: { fan: { speed: 3 }, mode: "eco" } } }, "*");
    assert.deepEqual(first.tags, { site: "north", floor: 1 });
    assert.equal(first.properties.desired["fan"].speed, 3);
    assert.equal(first.properties.desired["$version"], 2);
    assert.equal(first.properties.desired["$metadata"]["fan"]["speed"]["$lastUpdatedVersion"], 2);
    const { responseBody: second } = await registry.updateTwin("twin-patch", { tags: { floor: null }, properties: { desired: { mode: null, fan: { dir: "left" } } } }, first.etag);
    assert.deepEqual(second.tags, { site: "north" });
    assert.equal(second.properties.desired["mode"], undefined);
    assert.deepEqual({ speed: second.properties.desired["fan"].speed, dir: second.properties.desired["fan"].dir }, { speed: 3, dir: "left" });
    assert.equal(second.properties.desired["$version"], 3);
    assert.notEqual(second.etag, first.etag);
    assert.ok((second as unknown as Json)["version"] > (first as unknown as Json)["version"]);
  });

  test("Twin.update through a twin object uses its etag", async () => {
    await registry.create({ deviceId: "twin-object" });
    const { responseBody: twin } = await registry.getTwin("twin-object");
    const { result: updated } = await twin.update({ tags: { owner: "ops" } });
    assert.equal((updated as unknown as Json)["tags"].owner, "ops");
  });

  test("a stale etag is InvalidEtagError (412001)", async () => {
    await registry.create({ deviceId: "twin-etag" });
    const { responseBody: twin } = await registry.getTwin("twin-etag");
    await registry.updateTwin("twin-etag", { tags: { a: 1 } }, twin.etag);
    await assert.rejects(registry.updateTwin("twin-etag", { tags: { a: 2 } }, twin.etag), (err: Error & { responseBody?: string }) => {
      assert.equal(err.name, "InvalidEtagError");
      assert.match(err.responseBody ?? "", /ErrorCode:PreconditionFailed;/);
      return true;
    });
  });

  test("invalid patches are ArgumentError and change nothing", async () => {
    await registry.create({ deviceId: "twin-invalid" });
    await assert.rejects(registry.updateTwin("twin-invalid", { tags: { "bad.key": 1 } }, "*"), { name: "ArgumentError" });
    await assert.rejects(registry.updateTwin("twin-invalid", { properties: { desired: { ok: 1, $nope: 2 } } }, "*"), { name: "ArgumentError" });
    await assert.rejects(registry.updateTwin("twin-invalid", { tags: { big: "x".repeat(9000) } }, "*"), { name: "ArgumentError" });
    const { responseBody: twin } = await registry.getTwin("twin-invalid");
    assert.equal(twin.properties.desired["ok"], undefined);
    assert.equal(twin.etag, "AAAAAAAAAAE=");
  });

  test("twin of an unknown device is DeviceNotFoundError", async () => {
    await assert.rejects(registry.getTwin("no-twin"), { name: "DeviceNotFoundError" });
    await assert.rejects(registry.updateTwin("no-twin", { tags: { a: 1 } }, "*"), { name: "DeviceNotFoundError" });
  });

  test("module twins", async () => {
    await registry.create({ deviceId: "twin-mod" });
    await registry.addModule({ deviceId: "twin-mod", moduleId: "m1" });
    const { responseBody: twin } = await registry.getModuleTwin("twin-mod", "m1");
    assert.equal((twin as unknown as Json)["moduleId"], "m1");
    const { responseBody: updated } = await registry.updateModuleTwin("twin-mod", "m1", { properties: { desired: { interval: 5 } } }, twin.etag);
    assert.equal(updated.properties.desired["interval"], 5);
    assert.equal((await registry.getTwin("twin-mod")).responseBody.properties.desired["interval"], undefined);
  });

  test("PUT /twins replaces tags and desired wholesale", async () => {
    await registry.create({ deviceId: "twin-put" });
    await registry.updateTwin("twin-put", { tags: { a: 1, b: 2 }, properties: { desired: { x: 1, y: 2 } } }, "*");
    const reply = await serviceRequest(hub, "PUT", "/twins/twin-put?api-version=2021-04-12", {
      body: JSON.stringify({ tags: { c: 3 }, properties: { desired: { z: 3 } } }),
      headers: { "content-type": "application/json; charset=utf-8", "if-match": '"*"' },
    });
    assert.equal(reply.status, 200);
    const twin = reply.json as Json;
    assert.deepEqual(twin["tags"], { c: 3 });
    assert.equal(twin["properties"].desired.x, undefined);
    assert.equal(twin["properties"].desired.z, 3);
  });
});
