import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:tls";
import mqtt from "mqtt-packet";
import iothub from "azure-iothub";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { deviceClient } from "./harness/device-client.js";
import { serviceRequest } from "./harness/service-request.js";
import { createSasToken } from "../../src/hub/index.js";

const { Registry } = iothub;
const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

describe("cloud-to-device messages to MQTT devices", () => {
  let hub: TestHub;
  let registry: any;
  const keys = new Map<string, string>();

  async function create(id: string): Promise<string> {
    const key = (await registry.create({ deviceId: id })).responseBody.authentication.symmetricKey.primaryKey as string;
    keys.set(id, key);
    return key;
  }

  function send(deviceId: string, message: Record<string, unknown>) {
    return serviceRequest(hub, "POST", `/admin/devices/${encodeURIComponent(deviceId)}/messages/devicebound?api-version=2021-04-12`, { body: JSON.stringify(message), headers: JSON_TYPE });
  }

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
  });
  after(() => hub.dispose());

  test("a queued message reaches the SDK with its properties and is completed", async () => {
    const key = await create("c2d-dev");
    assert.equal((await send("c2d-dev", { body: "hello", messageId: "m-1", correlationId: "c-1", ack: "full", properties: { color: "blue" } })).status, 201);
    assert.equal((await registry.get("c2d-dev")).responseBody.cloudToDeviceMessageCount, 1);
    const client = deviceClient(hub, "c2d-dev", key);
    const received = new Promise<any>((resolve) => client.on("message", (msg: any) => {
      void client.complete(msg).then(() => resolve(msg));
    }));
    await client.open();
    const msg = await received;
    assert.equal(msg.data.toString(), "hello");
    assert.equal(msg.messageId, "m-1");
    assert.equal(msg.correlationId, "c-1");
    assert.equal(msg.properties.getValue("color"), "blue");
    for (let i = 0; i < 50 && (await registry.get("c2d-dev")).responseBody.cloudToDeviceMessageCount !== 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await registry.get("c2d-dev")).responseBody.cloudToDeviceMessageCount, 0);

    const live = new Promise<any>((resolve) => client.on("message", (m: any) => resolve(m)));
    await send("c2d-dev", { body: "while connected" });
    assert.equal((await live).data.toString(), "while connected");
    await client.close();
  });

  test("the 51st queued message is 403004 DeviceMaximumQueueDepthExceeded; purge empties the queue", async () => {
    await create("c2d-full");
    for (let i = 0; i < 50; i++) assert.equal((await send("c2d-full", { body: `m${i}` })).status, 201);
    const refused = await send("c2d-full", { body: "one too many" });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers["iothub-errorcode"], "DeviceMaximumQueueDepthExceeded");
    const purge = await serviceRequest(hub, "DELETE", "/devices/c2d-full/commands?api-version=2021-04-12");
    assert.equal(purge.status, 200);
    assert.deepEqual(purge.json, { totalMessagesPurged: 50, deviceId: "c2d-full", moduleId: null });
    assert.equal((await registry.get("c2d-full")).responseBody.cloudToDeviceMessageCount, 0);
  });

  test("a message for an unknown device is 404 DeviceNotFound; an oversize one 413", async () => {
    const unknown = await send("nobody", { body: "x" });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers["iothub-errorcode"], "DeviceNotFound");
    await create("c2d-big");
    const big = await send("c2d-big", { body: "x".repeat(65 * 1024) });
    assert.equal(big.status, 413);
  });

  test("not acknowledged within the one-minute lock, a message is delivered again", async () => {
    const key = await create("c2d-raw");
    await send("c2d-raw", { body: "again" });
    const socket = connect({ host: hub.hostName, port: hub.ports.mqtt, servername: undefined });
    const parser = mqtt.parser({ protocolVersion: 4 });
    const publishes: mqtt.IPublishPacket[] = [];
    parser.on("packet", (p: mqtt.Packet) => {
      if (p.cmd === "publish") publishes.push(p);
    });
    socket.on("data", (d: Buffer) => parser.parse(d));
    await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
    const password = createSasToken(encodeURIComponent(`${hub.hostName}/devices/c2d-raw`), key, Math.ceil(Date.now() / 1000) + 3600);
    socket.write(mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: false, clientId: "c2d-raw", keepalive: 0, username: `${hub.hostName}/c2d-raw/?api-version=2021-04-12`, password: Buffer.from(password) }));
    socket.write(mqtt.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "devices/c2d-raw/messages/devicebound/#", qos: 1 }] }));
    const waitFor = async (n: number) => {
      for (let i = 0; i < 200 && publishes.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(publishes.length, n);
    };
    await waitFor(1);
    assert.match(publishes[0]!.topic, /^devices\/c2d-raw\/messages\/devicebound\/.*%24\.to=/);
    // No PUBACK: after the lock (60 s of hub time) the message comes back.
    hub.advanceClock(61);
    await waitFor(2);
    assert.equal(publishes[1]!.payload.toString(), "again");
    socket.write(mqtt.generate({ cmd: "puback", messageId: publishes[1]!.messageId! }));
    for (let i = 0; i < 50 && (await registry.get("c2d-raw")).responseBody.cloudToDeviceMessageCount !== 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await registry.get("c2d-raw")).responseBody.cloudToDeviceMessageCount, 0);
    socket.destroy();
  });
});
