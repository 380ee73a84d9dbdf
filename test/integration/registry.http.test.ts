import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import iothub from "azure-iothub";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest } from "./harness/service-request.js";

const { Registry } = iothub;

describe("identity registry through azure-iothub Registry", () => {
  let hub: TestHub;
  // The SDK's typings lag its JSON (no deviceScope, no authentication.type): read replies as plain JSON.
  let registry: any;

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
  });
  after(() => hub.dispose());

  test("create generates keys and returns IoT Hub's device JSON", async () => {
    const { responseBody: device } = await registry.create({ deviceId: "dev-create" });
    assert.equal(device.deviceId, "dev-create");
    assert.match(device.generationId, /^\d{18}$/);
    assert.equal(typeof device.etag, "string");
    assert.equal(device.status, "enabled");
    assert.equal(device.connectionState, "Disconnected");
    assert.equal(device.cloudToDeviceMessageCount, 0);
    assert.equal(device.authentication?.type, "sas");
    assert.equal(Buffer.from(device.authentication!.symmetricKey!.primaryKey, "base64").length, 32);
    assert.notEqual(device.authentication!.symmetricKey!.primaryKey, device.authentication!.symmetricKey!.secondaryKey);
    assert.deepEqual(device.capabilities, { iotEdge: false });
    const { responseBody: read } = await registry.get("dev-create");
    assert.deepEqual(read, device);
  });

  test("create of an existing id is DeviceAlreadyExistsError (409001)", async () => {
    await registry.create({ deviceId: "dev-dup" });
    await assert.rejects(registry.create({ deviceId: "dev-dup" }), (err: Error & { responseBody?: string }) => {
      assert.equal(err.constructor.name, "DeviceAlreadyExistsError");
      assert.match(err.responseBody ?? "", /ErrorCode:DeviceAlreadyExists;/);
      return true;
    });
  });

  test("get of an unknown device is DeviceNotFoundError (404001)", async () => {
    await assert.rejects(registry.get("nobody"), { name: "DeviceNotFoundError" });
  });

  test("update keeps generationId, changes the etag and the status time", async () => {
    const { responseBody: created } = await registry.create({ deviceId: "dev-update" });
    const { responseBody: updated } = await registry.update({ ...created, status: "disabled", statusReason: "maintenance" });
    assert.equal(updated.generationId, created.generationId);
    assert.notEqual(updated.etag, created.etag);
    assert.equal(updated.status, "disabled");
    assert.equal(updated.statusReason, "maintenance");
    assert.match(updated.statusUpdatedTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
    assert.equal(updated.authentication!.symmetricKey!.primaryKey, created.authentication!.symmetricKey!.primaryKey);
  });

  test("given keys are kept, and an invalid key is ArgumentError", async () => {
    const primaryKey = Buffer.alloc(32, 1).toString("base64");
    const secondaryKey = Buffer.alloc(32, 2).toString("base64");
    const { responseBody } = await registry.create({ deviceId: "dev-keys", authentication: { symmetricKey: { primaryKey, secondaryKey } } });
    assert.equal(responseBody.authentication!.symmetricKey!.primaryKey, primaryKey);
    await assert.rejects(
      registry.create({ deviceId: "dev-badkey", authentication: { symmetricKey: { primaryKey: "c2hvcnQ=", secondaryKey } } }),
      (err: Error & { responseBody?: string }) => err.name === "ArgumentError" && /between 16 and 64 bytes/.test(err.responseBody ?? ""),
    );
  });

  test("self-signed X.509 and CA authentication", async () => {
    const thumbprint = "A".repeat(40);
    const { responseBody: x509 } = await registry.create({ deviceId: "dev-x509", authentication: { x509Thumbprint: { primaryThumbprint: thumbprint } } });
    assert.equal(x509.authentication?.type, "selfSigned");
    assert.equal(x509.authentication?.x509Thumbprint?.primaryThumbprint, thumbprint);
    const { responseBody: ca } = await registry.create({ deviceId: "dev-ca", authentication: { type: "certificateAuthority" } });
    assert.equal(ca.authentication?.type, "certificateAuthority");
  });

  test("IoT Edge devices get their own device scope", async () => {
    const { responseBody: edge } = await registry.create({ deviceId: "dev-edge", capabilities: { iotEdge: true } });
    assert.deepEqual(edge.capabilities, { iotEdge: true });
    assert.equal(edge.deviceScope, `ms-azure-iot-edge://dev-edge-${edge.generationId}`);
  });

  test("delete removes the device; deleting again is DeviceNotFoundError", async () => {
    await registry.create({ deviceId: "dev-delete" });
    await registry.delete("dev-delete");
    await assert.rejects(registry.get("dev-delete"), { name: "DeviceNotFoundError" });
    await assert.rejects(registry.delete("dev-delete"), { name: "DeviceNotFoundError" });
  });

  test("ids with every allowed special character round-trip through the URL", async () => {
    const id = "a-b.c+d%e_f#g*h?i!j(k)l,m=n@o$p'q";
    const { responseBody } = await registry.create({ deviceId: id });
    assert.equal(responseBody.deviceId, id);
    assert.equal((await registry.get(id)).responseBody.deviceId, id);
    await registry.delete(id);
  });

  test("invalid ids are ArgumentError", async () => {
    await assert.rejects(registry.create({ deviceId: "has space" }), { name: "ArgumentError" });
    await assert.rejects(registry.create({ deviceId: "x".repeat(129) }), { name: "ArgumentError" });
  });

  test("list returns devices, not modules", async () => {
    await registry.create({ deviceId: "dev-list" });
    await registry.addModule({ deviceId: "dev-list", moduleId: "m1" });
    const { responseBody: devices } = await registry.list();
    const ids = devices.map((d: { deviceId: string }) => d.deviceId);
    assert.ok(ids.includes("dev-list"));
    assert.ok(devices.every((d: { moduleId?: string }) => d.moduleId === undefined));
  });

  test("modules: create, get, list, update with etag, remove", async () => {
    await registry.create({ deviceId: "dev-mod" });
    const { responseBody: module } = await registry.addModule({ deviceId: "dev-mod", moduleId: "temp" });
    assert.equal(module.moduleId, "temp");
    assert.equal(module.deviceId, "dev-mod");
    assert.equal(module.authentication?.type, "sas");
    assert.equal((await registry.getModule("dev-mod", "temp")).responseBody.etag, module.etag);
    await registry.addModule({ deviceId: "dev-mod", moduleId: "hum" });
    const { responseBody: modules } = await registry.getModulesOnDevice("dev-mod");
    assert.deepEqual(modules.map((m: { moduleId: string }) => m.moduleId), ["hum", "temp"]);
    const { responseBody: updated } = await registry.updateModule({ ...module, managedBy: "me" });
    assert.equal(updated.managedBy, "me");
    // The old etag no longer matches: removeModule(module) sends If-Match with it. (The SDK's promise form of
    // removeModule(module) throws before sending, so use its callback form.)
    const removeModule = (m: unknown) => new Promise<void>((resolve, reject) => registry.removeModule(m, (err?: Error) => (err ? reject(err) : resolve())));
    await assert.rejects(removeModule(module), { name: "InvalidEtagError" });
    await removeModule(updated);
    await assert.rejects(registry.getModule("dev-mod", "temp"), (err: Error & { responseBody?: string }) => /ErrorCode:ModuleNotFound;/.test(err.responseBody ?? ""));
  });

  test("module conflicts and a module on an unknown device", async () => {
    await registry.create({ deviceId: "dev-mod2" });
    await registry.addModule({ deviceId: "dev-mod2", moduleId: "m" });
    await assert.rejects(registry.addModule({ deviceId: "dev-mod2", moduleId: "m" }), (err: Error & { responseBody?: string }) => {
      assert.equal(err.name, "DeviceAlreadyExistsError");
      assert.match(err.responseBody ?? "", /ErrorCode:ModuleAlreadyExistsOnDevice;/);
      return true;
    });
    await assert.rejects(registry.addModule({ deviceId: "no-such-device", moduleId: "m" }), { name: "DeviceNotFoundError" });
  });

  test("deleting a device deletes its modules", async () => {
    await registry.create({ deviceId: "dev-cascade" });
    await registry.addModule({ deviceId: "dev-cascade", moduleId: "m" });
    await registry.delete("dev-cascade");
    await registry.create({ deviceId: "dev-cascade" });
    assert.deepEqual((await registry.getModulesOnDevice("dev-cascade")).responseBody, []);
  });

  test("bulk add, update and remove", async () => {
    const devices = Array.from({ length: 5 }, (_, i) => ({ deviceId: `bulk-${i}` }));
    const { responseBody: added } = await registry.addDevices(devices);
    assert.deepEqual(added, { isSuccessful: true, errors: [], warnings: [] });
    assert.equal((await registry.get("bulk-3")).responseBody.status, "enabled");
    await registry.updateDevices(devices.map((d) => ({ ...d, status: "disabled" })), true);
    assert.equal((await registry.get("bulk-3")).responseBody.status, "disabled");
    await registry.removeDevices(devices, true);
    await assert.rejects(registry.get("bulk-3"), { name: "DeviceNotFoundError" });
  });

  test("bulk: per-device errors come back in the result; the rest is applied", async () => {
    await registry.create({ deviceId: "bulk-exists" });
    await assert.rejects(registry.addDevices([{ deviceId: "bulk-exists" }, { deviceId: "bulk-new" }]), (err: Error & { responseBody?: string }) => {
      assert.equal(err.name, "ArgumentError");
      const body = JSON.parse(err.responseBody!);
      assert.equal(body.isSuccessful, false);
      assert.deepEqual(body.errors.map((e: { deviceId: string; errorCode: string }) => [e.deviceId, e.errorCode]), [["bulk-exists", "DeviceAlreadyExists"]]);
      return true;
    });
    assert.equal((await registry.get("bulk-new")).responseBody.deviceId, "bulk-new");
  });

  test("bulk: the same id twice fails the whole request; over 100 records too", async () => {
    await assert.rejects(registry.addDevices([{ deviceId: "twice" }, { deviceId: "twice" }]), (err: Error & { responseBody?: string }) =>
      /ErrorCode:DeviceDefinedMultipleTimes;/.test(err.responseBody ?? ""),
    );
    await assert.rejects(registry.get("twice"), { name: "DeviceNotFoundError" });
    // The SDK refuses over 100 devices itself; other clients reach the hub, which refuses too.
    const many = Array.from({ length: 101 }, (_, i) => ({ id: `many-${i}`, importMode: "create" }));
    const reply = await serviceRequest(hub, "POST", "/devices?api-version=2021-04-12", { body: JSON.stringify(many), headers: { "content-type": "application/json" } });
    assert.equal(reply.headers["iothub-errorcode"], "TooManyDevices");
    await assert.rejects(registry.get("many-0"), { name: "DeviceNotFoundError" });
  });

  test("bulk remove with a stale etag is refused for that device only", async () => {
    const { responseBody: a } = await registry.create({ deviceId: "bulk-etag-a" });
    const { responseBody: b } = await registry.create({ deviceId: "bulk-etag-b" });
    await registry.update({ ...a, status: "disabled" });
    await assert.rejects(registry.removeDevices([a, b], false), (err: Error & { responseBody?: string }) => {
      const body = JSON.parse(err.responseBody!);
      assert.deepEqual(body.errors.map((e: { deviceId: string; errorCode: string }) => [e.deviceId, e.errorCode]), [["bulk-etag-a", "PreconditionFailed"]]);
      return true;
    });
    await assert.rejects(registry.get("bulk-etag-b"), { name: "DeviceNotFoundError" });
    assert.equal((await registry.get("bulk-etag-a")).responseBody.status, "disabled");
  });

  test("registry statistics count devices by status", async () => {
    const before = (await registry.getRegistryStatistics()).responseBody;
    const { responseBody: d } = await registry.create({ deviceId: "stats-1" });
    await registry.update({ ...d, status: "disabled" });
    await registry.create({ deviceId: "stats-2" });
    const after = (await registry.getRegistryStatistics()).responseBody;
    assert.equal(after.totalDeviceCount, before.totalDeviceCount + 2);
    assert.equal(after.disabledDeviceCount, before.disabledDeviceCount + 1);
    assert.equal(after.enabledDeviceCount, before.enabledDeviceCount + 1);
  });
});
