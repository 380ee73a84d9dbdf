import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest } from "./harness/service-request.js";
import { deviceClient, moduleClient, type Transport } from "./harness/device-client.js";
import { storedTelemetry } from "./harness/stored-telemetry.js";
import { deviceKeys } from "./harness/device-keys.js";

const { Registry } = iothub;

async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

const noRetry = { shouldRetry: () => false, nextRetryTimeout: () => 0 };

for (const transport of ["Amqp", "AmqpWs"] as Transport[]) {
  describe(`devices over ${transport} with azure-iot-device-amqp`, () => {
    let hub: TestHub;
    let registry: any;
    const keys = deviceKeys(() => registry);
    const clients: Array<{ close(): Promise<unknown> }> = [];

    async function key(id: string): Promise<string> {
      return keys.of(id);
    }
    async function device(id: string) {
      const client = deviceClient(hub, id, await key(id), transport);
      clients.push(client);
      return client;
    }
    before(async () => {
      hub = await startTestHub();
      registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    });
    after(async () => {
      for (const c of clients) await c.close().catch(() => undefined);
      await hub.dispose();
    });

    test("telemetry is accepted once durable, with the device's properties and IoT Hub's system properties", async () => {
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
      const records = (await storedTelemetry(hub)).filter((r) => r.systemProperties["iothub-connection-device-id"] === "telemetry-dev");
      assert.equal(records.length, 1);
      const record = records[0]!;
      assert.equal(record.body.toString(), JSON.stringify({ temp: 21.5 }));
      assert.deepEqual(record.properties, { level: "warn" });
      assert.equal(record.systemProperties["messageId"], "m-1");
      assert.equal(record.systemProperties["correlationId"], "c-1");
      assert.equal(record.systemProperties["contentType"], "application/json");
      assert.equal(record.systemProperties["contentEncoding"], "utf-8");
      assert.equal(record.systemProperties["iothub-message-source"], "Telemetry");
      assert.match(record.systemProperties["iothub-connection-auth-method"]!, /"type":"sas"/);
      await client.close();
      await eventually(async () => (await registry.get("telemetry-dev")).responseBody.connectionState === "Disconnected", "the disconnect");
    });

    test("twin: get, reported patch, desired notification", async () => {
      const client = await device("twin-dev");
      await client.open();
      const twin = await client.getTwin();
      assert.equal(typeof twin.properties.desired.$version, "number");
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ fw: "1.2" }, (err?: Error) => (err ? reject(err) : resolve())));
      const { responseBody: serviceTwin } = await registry.getTwin("twin-dev");
      assert.equal(serviceTwin.properties.reported.fw, "1.2");
      const patches: any[] = [];
      twin.on("properties.desired", (patch: any) => patches.push(patch));
      await eventually(() => patches.length >= 1, "the initial desired event");
      // The SDK subscribes to desired updates on its own schedule: keep patching until one arrives.
      let interval = 0;
      await eventually(async () => {
        await registry.updateTwin("twin-dev", { properties: { desired: { interval: ++interval } } }, "*");
        return patches.some((p) => typeof p.interval === "number");
      }, "the desired patch");
    });

    test("direct methods reach the device and its answer reaches the caller", async () => {
      const client = await device("method-dev");
      await client.open();
      client.onDeviceMethod("reboot", (request: any, response: any) => {
        response.send(201, { echoed: request.payload }, () => undefined);
      });
      const service = iothub.Client.fromConnectionString(hub.connectionStrings["service"]!);
      await eventually(async () => {
        try {
          const result = await service.invokeDeviceMethod("method-dev", { methodName: "reboot", payload: { delay: 3 }, responseTimeoutInSeconds: 5 });
          assert.equal(result.result.status, 201);
          assert.deepEqual(result.result.payload, { echoed: { delay: 3 } });
          return true;
        } catch (error) {
          if ((error as { responseBody?: string }).responseBody?.includes("404103")) return false;
          throw error;
        }
      }, "the method link");
      await service.close().catch(() => undefined);
    });

    test("C2D: complete, reject and abandon with redelivery", async () => {
      const client = await device("c2d-dev");
      client.setRetryPolicy(noRetry);
      await client.open();
      const received: any[] = [];
      client.on("message", (msg: any) => {
        received.push(msg);
        const text = msg.data.toString();
        if (text === "abandon-me" && received.filter((m) => m.data.toString() === "abandon-me").length === 1) client.abandon(msg, () => undefined);
        else if (text === "reject-me") client.reject(msg, () => undefined);
        else client.complete(msg, () => undefined);
      });
      for (const body of ["hello", "reject-me", "abandon-me"]) {
        const reply = await serviceRequest(hub, "POST", "/admin/devices/c2d-dev/messages/devicebound?api-version=2021-04-12", {
          body: JSON.stringify({ body, messageId: `id-${body}`, properties: { k: "v" } }),
          headers: { "content-type": "application/json" },
        });
        assert.equal(reply.status < 300, true, reply.text);
      }
      await eventually(() => received.filter((m) => m.data.toString() === "abandon-me").length === 2, "the redelivery");
      const hello = received.find((m) => m.data.toString() === "hello");
      assert.equal(hello.messageId, "id-hello");
      assert.equal(hello.properties.getValue("k"), "v");
      await eventually(async () => (await registry.get("c2d-dev")).responseBody.cloudToDeviceMessageCount === 0, "an empty queue");
    });

    test("a second connection of the same device closes the first (400027)", async () => {
      const first = await device("dup-dev");
      first.setRetryPolicy(noRetry);
      await first.open();
      const disconnected = new Promise<void>((resolve) => first.on("disconnect", () => resolve()));
      const second = await device("dup-dev");
      await second.open();
      await disconnected;
      await second.sendEvent(new deviceSdk.Message("still here"));
    });

    test("a module sends telemetry with its module id", async () => {
      await key("mod-parent");
      const { responseBody: mod } = await registry.addModule({ deviceId: "mod-parent", moduleId: "m1" });
      const client = moduleClient(hub, "mod-parent", "m1", mod.authentication.symmetricKey.primaryKey, transport);
      clients.push(client);
      await client.open();
      await client.sendEvent(new deviceSdk.Message("from module"));
      const records = (await storedTelemetry(hub)).filter((r) => r.systemProperties["iothub-connection-module-id"] === "m1");
      assert.equal(records.length, 1);
    });

    test("a wrong key is refused at put-token", async () => {
      await key("bad-key-dev");
      const client = deviceClient(hub, "bad-key-dev", Buffer.alloc(32, 1).toString("base64"), transport);
      client.setRetryPolicy(noRetry);
      clients.push(client);
      await assert.rejects(client.open(), (error: Error) => /Unauthorized/i.test(error.name) || /signature/i.test(error.message));
    });
  });
}
