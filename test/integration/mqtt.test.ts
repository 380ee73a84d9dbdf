import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest } from "./harness/service-request.js";
import { deviceClient, moduleClient, type Transport } from "./harness/device-client.js";
import { deviceKeys } from "./harness/device-keys.js";
import { SqliteTelemetryLog } from "../../src/storage/sqlite/sqlite-telemetry-log.js";
import type { TelemetryRecord } from "../../src/hub/index.js";

const { Registry, Client: ServiceClient } = iothub;

async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

for (const transport of ["Mqtt", "MqttWs"] as Transport[]) {
  describe(`devices over ${transport} with azure-iot-device`, () => {
    let hub: TestHub;
    let registry: any;
    let service: InstanceType<typeof ServiceClient>;
    const keys = deviceKeys(() => registry);
    const clients: Array<{ close(): Promise<unknown> }> = [];

    async function device(id: string) {
      const client = deviceClient(hub, id, await keys.of(id), transport);
      clients.push(client);
      return client;
    }

    before(async () => {
      hub = await startTestHub();
      registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
      service = ServiceClient.fromConnectionString(hub.connectionStrings["service"]!);
    });
    after(async () => {
      for (const c of clients) await c.close().catch(() => undefined);
      await hub.dispose();
    });

    test("telemetry is durable with IoT Hub's system properties, and the registry shows the connection", async () => {
      const client = await device("telemetry-dev");
      await client.open();
      const message = new deviceSdk.Message(JSON.stringify({ temp: 21.5 }));
      message.messageId = "m-1";
      message.correlationId = "c-1";
      message.contentType = "application/json";
      message.contentEncoding = "utf-8";
      message.properties.add("level", "warn");
      await client.sendEvent(message);
      const { responseBody: identity } = await registry.get("telemetry-dev");
      assert.equal(identity.connectionState, "Connected");
      const statistics = await serviceRequest(hub, "GET", "/statistics/service?api-version=2021-04-12");
      assert.ok((statistics.json as { connectedDeviceCount: number }).connectedDeviceCount >= 1);
      assert.equal((await registry.getTwin("telemetry-dev")).responseBody.connectionState, "Connected");
      await client.close();
      await eventually(async () => (await registry.get("telemetry-dev")).responseBody.connectionState === "Disconnected", "Disconnected");

      const records: TelemetryRecord[] = [];
      // Read the log through a second handle: what the device was acknowledged for is on disk.
      const log = SqliteTelemetryLog.open({ path: join(hub.dataDir, "telemetry.db") });
      for (let partition = 0; partition < 4; partition++) records.push(...(await log.read({ partition, fromSequenceNumber: 0, limit: 1000 })));
      await log.close();
      const record = records.find((r) => r.systemProperties["iothub-connection-device-id"] === "telemetry-dev");
      assert.ok(record, "the message is in the telemetry log");
      assert.equal(record.body.toString(), JSON.stringify({ temp: 21.5 }));
      assert.equal(record.properties["level"], "warn");
      assert.equal(record.systemProperties["messageId"], "m-1");
      assert.equal(record.systemProperties["correlationId"], "c-1");
      assert.equal(record.systemProperties["contentType"], "application/json");
      assert.equal(record.systemProperties["iothub-message-source"], "Telemetry");
      assert.match(record.systemProperties["iothub-connection-auth-method"]!, /"type":"sas"/);
      assert.equal(record.systemProperties["iothub-connection-auth-generation-id"], identity.generationId);
    });

    test("twins both ways: GET, reported patch, desired notifications", async () => {
      const client = await device("twin-dev");
      await client.open();
      const twin = await client.getTwin();
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ firmware: "1.2.0", gone: null }, (err?: Error) => (err ? reject(err) : resolve())));
      const { responseBody: serviceTwin } = await registry.getTwin("twin-dev");
      assert.equal(serviceTwin.properties.reported.firmware, "1.2.0");
      assert.equal(serviceTwin.properties.reported.$version, 2);
      const patches: Array<Record<string, unknown>> = [];
      twin.on("properties.desired", (patch: Record<string, unknown>) => patches.push(patch));
      await registry.updateTwin("twin-dev", { properties: { desired: { interval: 5 } } }, "*");
      await eventually(() => patches.some((p) => p["interval"] === 5), "the desired patch");
      await registry.updateTwin("twin-dev", { properties: { desired: { interval: null } } }, "*");
      await eventually(() => patches.some((p) => p["interval"] === null || (p["$version"] === 3 && !("interval" in p))), "the removal");
      assert.equal(twin.properties.desired["interval"], undefined);
    });

    test("desired notifications still arrive after a reconnect (persistent session)", async () => {
      const client = await device("session-dev");
      await client.open();
      const twin = await client.getTwin();
      await client.close();
      await client.open();
      const patches: Array<Record<string, unknown>> = [];
      twin.on("properties.desired", (patch: Record<string, unknown>) => patches.push(patch));
      await registry.updateTwin("session-dev", { properties: { desired: { mode: "eco" } } }, "*");
      await eventually(() => patches.some((p) => p["mode"] === "eco"), "the desired patch after reconnect");
    });

    test("direct methods: answered, 404103 when offline, 504101 when unanswered", async () => {
      const client = await device("method-dev");
      await client.open();
      client.onDeviceMethod("reboot", (request, response) => void response.send(200, { delay: (request.payload as { delay: number }).delay }));
      client.onDeviceMethod("hang", () => undefined);
      await eventually(async () => (await registry.get("method-dev")).responseBody.connectionState === "Connected", "connected");
      const { result } = await service.invokeDeviceMethod("method-dev", { methodName: "reboot", payload: { delay: 5 }, responseTimeoutInSeconds: 10 });
      assert.deepEqual(result, { status: 200, payload: { delay: 5 } });

      const pending = service.invokeDeviceMethod("method-dev", { methodName: "hang", payload: null, responseTimeoutInSeconds: 5 });
      const failed = assert.rejects(pending, (err: Error & { responseBody?: string }) => {
        assert.equal(err.name, "GatewayTimeoutError");
        assert.match(JSON.parse(err.responseBody!).Message, /"errorCode":504101/);
        return true;
      });
      await new Promise((r) => setTimeout(r, 100));
      hub.advanceClock(6);
      await failed;

      await registry.create({ deviceId: "offline-dev" });
      await assert.rejects(service.invokeDeviceMethod("offline-dev", { methodName: "reboot", payload: null, responseTimeoutInSeconds: 5 }), (err: Error & { responseBody?: string }) => {
        assert.equal(err.message, "Not found");
        assert.match(JSON.parse(err.responseBody!).Message, /"errorCode":404103/);
        return true;
      });
    });

    test("connectTimeoutInSeconds waits for the device to come online", async () => {
      const client = await device("late-dev");
      const call = service.invokeDeviceMethod("late-dev", { methodName: "hello", payload: "hi", responseTimeoutInSeconds: 10, connectTimeoutInSeconds: 30 });
      await new Promise((r) => setTimeout(r, 100));
      await client.open();
      client.onDeviceMethod("hello", (request, response) => void response.send(201, `${request.payload as string} back`));
      assert.deepEqual((await call).result, { status: 201, payload: "hi back" });
    });

    test("a second connection of the same device closes the first (400027)", async () => {
      const first = await device("twice-dev");
      const second = deviceClient(hub, "twice-dev", await keys.of("twice-dev"), transport);
      clients.push(second);
      // Without retries the SDK reports the close instead of reconnecting (which would take the identity back).
      first.setRetryPolicy({ shouldRetry: () => false, nextRetryTimeout: () => 0 });
      await first.open();
      const disconnected = new Promise<void>((resolve) => first.on("disconnect", () => resolve()));
      await second.open();
      second.onDeviceMethod("ping", (_req, res) => void res.send(200, "second"));
      await disconnected;
      await eventually(async () => {
        const reply = await service.invokeDeviceMethod("twice-dev", { methodName: "ping", payload: null, responseTimeoutInSeconds: 5 }).catch(() => undefined);
        return reply?.result.payload === "second";
      }, "the second connection to answer");
      assert.equal((await registry.get("twice-dev")).responseBody.connectionState, "Connected");
    });

    test("module clients send telemetry and use their own twin", async () => {
      await registry.create({ deviceId: "edge-dev" }).catch(() => undefined);
      const { responseBody: module } = await registry.addModule({ deviceId: "edge-dev", moduleId: "sensor" });
      const client = moduleClient(hub, "edge-dev", "sensor", module.authentication.symmetricKey.primaryKey, transport);
      clients.push(client);
      await client.open();
      await client.sendEvent(new deviceSdk.Message("from module"));
      const twin = await client.getTwin();
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ ok: true }, (err?: Error) => (err ? reject(err) : resolve())));
      assert.equal((await registry.getModuleTwin("edge-dev", "sensor")).responseBody.properties.reported.ok, true);
      assert.equal((await registry.getTwin("edge-dev")).responseBody.properties.reported.ok, undefined);
    });
  });
}
