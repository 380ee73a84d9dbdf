import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest } from "./harness/service-request.js";
import { deviceClient } from "./harness/device-client.js";
import { deviceRequest, deviceToken, httpDeviceClient } from "./harness/http-device-client.js";
import { storedTelemetry } from "./harness/stored-telemetry.js";
import { within } from "./harness/within.js";

// Issue #6: tiers, the daily quota, the free tier's device count, basic tiers' missing features and shaped throttles,
// each seen through the official SDKs and the raw wire. docs/limits.md and decision 0011 describe the choices.

const { Registry, Client } = iothub;
const noRetry = { shouldRetry: () => false, nextRetryTimeout: () => 0 };
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


type Closable = { close(): Promise<unknown> };

async function createDevice(registry: any, deviceId: string): Promise<string> {
  return (await registry.create({ deviceId })).responseBody.authentication.symmetricKey.primaryKey;
}

/** POST /devices/{id}/messages/events as an HTTPS device, raw: status and IoT Hub's error code header. */
async function rawSend(hub: TestHub, deviceId: string, key: string, body = "x"): Promise<{ status: number; errorCode: string | undefined }> {
  const response = await deviceRequest(hub, "POST", `/devices/${deviceId}/messages/events?api-version=2020-09-30`, {
    authorization: deviceToken(hub, deviceId, key),
    body,
    headers: { "content-type": "application/octet-stream" },
  });
  return { status: response.status, errorCode: response.headers["iothub-errorcode"] as string | undefined };
}

/** Seconds from hub time to the next 00:00 UTC on the hub clock, plus one. */
function secondsPastMidnight(hub: TestHub): number {
  const now = Date.parse(hub.advanceClock(0).now);
  const midnight = Math.floor(now / 86_400_000 + 1) * 86_400_000;
  return Math.ceil((midnight - now) / 1000) + 1;
}

describe("the daily message quota (--limit dailyMessages=3)", () => {
  let hub: TestHub;
  let registry: any;
  const clients: Closable[] = [];

  before(async () => {
    hub = await startTestHub({ limits: { dailyMessages: 3 } });
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await hub.dispose();
  });

  test("the 4th message of the day is refused on every protocol, in each protocol's form, until 00:00 UTC", async () => {
    const httpKey = await createDevice(registry, "q-http");
    const amqpKey = await createDevice(registry, "q-amqp");
    const mqttKey = await createDevice(registry, "q-mqtt");
    const amqp = deviceClient(hub, "q-amqp", amqpKey, "Amqp");
    const mqtt = deviceClient(hub, "q-mqtt", mqttKey, "Mqtt");
    const http = httpDeviceClient(hub, "q-http", httpKey);
    clients.push(amqp, mqtt, http);
    amqp.setRetryPolicy(noRetry);
    mqtt.setRetryPolicy(noRetry);
    await amqp.open();
    await mqtt.open();

    // Three messages use the day's quota (one 4 KB block each).
    await http.sendEvent(new deviceSdk.Message("1"));
    await amqp.sendEvent(new deviceSdk.Message("2"));
    await mqtt.sendEvent(new deviceSdk.Message("3"));

    // HTTPS: 403 with 403002, which the device SDK reports as IotHubQuotaExceededError.
    await assert.rejects(http.sendEvent(new deviceSdk.Message("4")), { name: "IotHubQuotaExceededError" });
    assert.deepEqual(await rawSend(hub, "q-http", httpKey), { status: 403, errorCode: "IotHubQuotaExceeded" });
    // AMQP: the delivery is rejected with com.microsoft:quota-exceeded: IotHubQuotaExceededError; the link stays up.
    await assert.rejects(amqp.sendEvent(new deviceSdk.Message("5")), { name: "IotHubQuotaExceededError" });
    // MQTT cannot refuse one PUBLISH: the hub closes the connection, as IoT Hub does.
    const dropped = new Promise<unknown>((resolve) => mqtt.on("disconnect", resolve));
    await assert.rejects(mqtt.sendEvent(new deviceSdk.Message("6")));
    await within(dropped, 10_000, "the MQTT connection stayed open");
    // Registry operations are free: they go on.
    assert.equal((await registry.get("q-http")).responseBody.deviceId, "q-http");

    const stored = (await storedTelemetry(hub)).map((r) => r.body.toString()).sort();
    assert.deepEqual(stored, ["1", "2", "3"]);

    // 00:00 UTC on the hub clock: a new day and a fresh quota.
    hub.advanceClock(secondsPastMidnight(hub));
    await http.sendEvent(new deviceSdk.Message("7"));
    const fresh = deviceClient(hub, "q-amqp", amqpKey, "Amqp");
    clients.push(fresh);
    await fresh.open();
    await fresh.sendEvent(new deviceSdk.Message("8"));
    await fresh.sendEvent(new deviceSdk.Message("9"));
    await assert.rejects(fresh.sendEvent(new deviceSdk.Message("10")), { name: "IotHubQuotaExceededError" });
    assert.deepEqual((await storedTelemetry(hub)).map((r) => r.body.toString()).sort(), ["1", "2", "3", "7", "8", "9"]);
  });
});

describe("the free tier (--tier F1 --limit devices=3 --limit dailyMessages=4)", () => {
  let hub: TestHub;
  let registry: any;
  const clients: Closable[] = [];

  before(async () => {
    hub = await startTestHub({ tier: "F1", limits: { devices: 3, dailyMessages: 4 } });
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
  });
  after(async () => {
    // A device client holds a token-renewal timer until it is closed.
    for (const client of clients) await client.close().catch(() => undefined);
    await hub.dispose();
  });

  test("creating a device or a bulk of devices past the limit is 413002 TooManyDevices; nothing of the bulk is written", async () => {
    await registry.create({ deviceId: "f-1" });
    await registry.create({ deviceId: "f-2" });
    // Two more would make 4: the whole bulk request is refused.
    const bulk = await registry.addDevices([{ deviceId: "f-3" }, { deviceId: "f-4" }]).then(
      () => assert.fail("the bulk create should have been refused"),
      (error: any) => error,
    );
    assert.equal(bulk.response.statusCode, 413);
    assert.match(String(bulk.responseBody), /TooManyDevices/);
    await assert.rejects(registry.get("f-3"), { name: "DeviceNotFoundError" });
    await registry.addDevices([{ deviceId: "f-3" }]);
    const single = await serviceRequest(hub, "PUT", "/devices/f-4?api-version=2021-04-12", { body: JSON.stringify({ deviceId: "f-4" }), headers: { "content-type": "application/json" } });
    assert.equal(single.status, 413);
    assert.equal(single.headers["iothub-errorcode"], "TooManyDevices");
    assert.match(String((single.json as { Message: string }).Message), /at most 3 devices/);
    await assert.rejects(registry.create({ deviceId: "f-4" }), (error: any) => error.response?.statusCode === 413);
    // Updates and modules do not add devices; a delete makes room.
    const { responseBody: device } = await registry.get("f-1");
    await registry.update({ ...device, status: "disabled" });
    await registry.addModule({ deviceId: "f-1", moduleId: "m-1" });
    await registry.delete("f-2");
    await registry.create({ deviceId: "f-4" });
    // A bulk that deletes as many as it creates fits.
    const swap = await serviceRequest(hub, "POST", "/devices?api-version=2021-04-12", {
      body: JSON.stringify([{ id: "f-4", importMode: "delete" }, { id: "f-5", importMode: "create" }]),
      headers: { "content-type": "application/json" },
    });
    assert.equal(swap.status, 200, swap.text);
  });

  test("the free tier meters its quota in 0.5 KB blocks", async () => {
    await registry.delete("f-5"); // the registry is full after the test above
    const key = await createDevice(registry, "f-6");
    const device = httpDeviceClient(hub, "f-6", key);
    clients.push(device);
    // 1 KB of body is 2 blocks of 512 bytes (it would be 1 block of 4 KB on S1): two such messages use all 4.
    await device.sendEvent(new deviceSdk.Message(Buffer.alloc(1024, 65)));
    await device.sendEvent(new deviceSdk.Message(Buffer.alloc(1024, 66)));
    await assert.rejects(device.sendEvent(new deviceSdk.Message("x")), { name: "IotHubQuotaExceededError" });
  });
});

describe("a basic tier (--tier B1)", () => {
  let hub: TestHub;
  let registry: any;
  let service: any;
  const clients: Closable[] = [];

  before(async () => {
    hub = await startTestHub({ tier: "B1" });
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    service = Client.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    clients.push(service);
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await hub.dispose();
  });

  test("C2D, twins and direct methods are 403010 OperationNotAvailableInCurrentTier; telemetry and the registry work", async () => {
    const key = await createDevice(registry, "b-dev");
    const device = deviceClient(hub, "b-dev", key, "Mqtt");
    clients.push(device);
    await device.open();
    await device.sendEvent(new deviceSdk.Message("basic tiers take telemetry"));

    // Over AMQP the service's send is rejected with amqp:not-allowed: the SDK's InvalidOperationError.
    await service.open();
    await assert.rejects(service.send("b-dev", new deviceSdk.Message("c2d")), { name: "InvalidOperationError" });
    // Over HTTPS: 403 with IoT Hub's 403010.
    for (const [method, path, body] of [
      ["GET", "/twins/b-dev?api-version=2021-04-12", undefined],
      ["PATCH", "/twins/b-dev?api-version=2021-04-12", JSON.stringify({ tags: { a: 1 } })],
      ["POST", "/twins/b-dev/methods?api-version=2021-04-12", JSON.stringify({ methodName: "reboot", payload: {} })],
      ["DELETE", "/devices/b-dev/commands?api-version=2021-04-12", undefined],
      ["POST", "/devices/query?api-version=2021-04-12", JSON.stringify({ query: "SELECT * FROM devices" })],
    ] as const) {
      const response = await serviceRequest(hub, method, path, { ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } }) });
      assert.equal(response.status, 403, `${method} ${path}: ${response.text}`);
      assert.equal(response.headers["iothub-errorcode"], "OperationNotAvailableInCurrentTier", `${method} ${path}`);
    }
    // The service SDK maps every HTTP 403 to its TooManyDevicesError; the status is what tells.
    await assert.rejects(registry.getTwin("b-dev"), (error: any) => error.response?.statusCode === 403 && /B1 tier/.test(error.message));
    await assert.rejects(service.invokeDeviceMethod("b-dev", { methodName: "reboot", payload: {} }), (error: any) => error.response?.statusCode === 403);
    // The device's own twin GET over MQTT is answered with status 403.
    await assert.rejects(device.getTwin());
  });
});

describe("shaped throttling (--limit d2cSendsPerSecond=0.2 …)", () => {
  let hub: TestHub;
  let registry: any;
  const clients: Closable[] = [];

  before(async () => {
    // One D2C send every 5 s, a bucket of one, and a backlog of at most 20 s; queries 1 per 100 s, never queued.
    hub = await startTestHub({ limits: { d2cSendsPerSecond: 0.2, throttleBurstSeconds: 1, throttleMaxWaitSeconds: 20, queriesPerSecond: 0.01 } });
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await hub.dispose();
  });

  test("a burst is served, the excess waits for the hub clock, a persistent backlog is 429001 (ThrottlingError)", async () => {
    const key = await createDevice(registry, "t-dev");
    const amqp = deviceClient(hub, "t-dev", key, "Amqp");
    clients.push(amqp);
    amqp.setRetryPolicy(noRetry);
    await amqp.open();
    await amqp.sendEvent(new deviceSdk.Message("burst"));
    // Four more: they wait 5, 10, 15 and 20 s of hub time in the backlog.
    const done: string[] = [];
    const waiting = ["w1", "w2", "w3", "w4"].map((body) => amqp.sendEvent(new deviceSdk.Message(body)).then(() => void done.push(body)));
    await delay(300);
    assert.deepEqual(done, [], "the backlog is served at the rate, not at once");
    // The next one would wait 25 s: refused, with com.microsoft:device-container-throttled, the SDK's ThrottlingError.
    await assert.rejects(amqp.sendEvent(new deviceSdk.Message("refused")), { name: "ThrottlingError" });
    // So is an HTTPS send, with 429 and 429001 ThrottlingException.
    assert.deepEqual(await rawSend(hub, "t-dev", key), { status: 429, errorCode: "ThrottlingException" });
    // Advancing the hub clock releases the backlog at once, in order.
    hub.advanceClock(30);
    await within(Promise.all(waiting), 5000, "the backlog was not released by the hub clock");
    assert.deepEqual(done, ["w1", "w2", "w3", "w4"]);
    const stored = (await storedTelemetry(hub, "t-dev")).map((r) => r.body.toString());
    assert.deepEqual(stored, ["burst", "w1", "w2", "w3", "w4"]);
  });

  test("the service SDK sees a throttled query as ThrottlingError", async () => {
    hub.advanceClock(200);
    const query = registry.createQuery("SELECT * FROM devices");
    await query.nextAsTwin();
    const again = registry.createQuery("SELECT * FROM devices");
    await assert.rejects(again.nextAsTwin(), { name: "ThrottlingError" });
  });
});

describe("a hub started with no tier has S1's limits (the default, like a new IoT Hub)", () => {
  let hub: TestHub;

  before(async () => {
    // The harness asks for tier "none"; undefined leaves startHub's own default.
    hub = await startTestHub({ tier: undefined });
  });
  after(async () => {
    await hub.dispose();
  });

  test("S1's 20 queries a minute: a burst of 20, then calls wait 3 s of hub time each, then 429001", async () => {
    const query = () => serviceRequest(hub, "POST", "/devices/query?api-version=2021-04-12", { body: JSON.stringify({ query: "SELECT * FROM devices" }), headers: { "content-type": "application/json" } });
    for (let i = 0; i < 20; i++) assert.equal((await query()).status, 200, `query ${i + 1} of the burst`);
    // Three wait 3, 6 and 9 s; a fourth would wait 12 s, past the 10 s IoT Hub shapes before refusing.
    const waiting = [query(), query(), query()];
    let settled = 0;
    for (const call of waiting) void call.then(() => settled++);
    const refused = await query();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers["iothub-errorcode"], "ThrottlingException");
    assert.equal(settled, 0, "the shaped queries wait for the hub clock");
    hub.advanceClock(9);
    const answers = await within(Promise.all(waiting), 5000, "the hub clock did not release the shaped queries");
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
  });
});

describe("throttled calls leave their category's resource-log record (--limit methodKilobytesPerSecond=0.001 …)", () => {
  let hub: TestHub;
  let registry: any;

  before(async () => {
    // Nothing may wait: every call over the (tiny) rate is refused at once with 429001.
    hub = await startTestHub({ limits: { methodKilobytesPerSecond: 0.001, fileUploadsPerSecond: 0.001, throttleBurstSeconds: 1, throttleMaxWaitSeconds: 0 } });
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
  });
  after(async () => {
    await hub.dispose();
  });

  /** The first record of `category` with resultType 429001, waiting for the log writer's batch. */
  function throttledRecord(category: string): Promise<{ resultType: string; properties: string }> {
    const poll = async (): Promise<{ resultType: string; properties: string }> => {
      for (;;) {
        const reply = await serviceRequest(hub, "GET", `/admin/logs?api-version=2021-04-12&category=${category}`);
        assert.equal(reply.status, 200);
        const found = (reply.json as { records: Array<{ resultType: string; properties: string }> }).records.find((r) => r.resultType === "429001");
        if (found !== undefined) return found;
        await delay(50);
      }
    };
    return within(poll(), 5000, `no ${category} record with 429001`);
  }

  test("a direct method refused by its throttle: 429 for the caller, a DirectMethods record with 429001", async () => {
    await createDevice(registry, "m-dev");
    // Raw, because the service SDK retries a 429. The method throttle is metered in KB of payload: a bucket holds at
    // least 1 KB, so a 2 KB payload can never be served at once and may not wait.
    const body = JSON.stringify({ methodName: "reboot", payload: { blob: "x".repeat(2048) }, responseTimeoutInSeconds: 5 });
    const refused = await serviceRequest(hub, "POST", "/twins/m-dev/methods?api-version=2021-04-12", { body, headers: { "content-type": "application/json" } });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers["iothub-errorcode"], "ThrottlingException");
    const logged = await throttledRecord("DirectMethods");
    assert.equal(JSON.parse(logged.properties).deviceId, "m-dev");
  });

  test("a file upload start refused by its throttle: 429 for the device, a FileUploadOperations record with 429001", async () => {
    const key = await createDevice(registry, "f-dev");
    const ask = () =>
      deviceRequest(hub, "POST", "/devices/f-dev/files?api-version=2020-09-30", {
        authorization: deviceToken(hub, "f-dev", key),
        body: JSON.stringify({ blobName: "a.txt" }),
        headers: { "content-type": "application/json" },
      });
    // A bucket holds at least one call: the first goes, the second finds it empty and may not wait.
    assert.equal((await ask()).status, 200);
    const refused = await ask();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers["iothub-errorcode"], "ThrottlingException");
    const logged = await throttledRecord("FileUploadOperations");
    assert.equal(JSON.parse(logged.properties).deviceId, "f-dev");
  });
});
