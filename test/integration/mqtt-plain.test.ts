import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import mqtt from "mqtt-packet";
import iothub from "azure-iothub";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { createSasToken } from "../../src/hub/index.js";

/** One MQTT exchange over plain TCP: sends the packets, collects what comes back until the socket closes or `until` holds. */
async function exchange(port: number, host: string, packets: mqtt.Packet[], until: (got: mqtt.Packet[]) => boolean): Promise<mqtt.Packet[]> {
  const socket = connect({ host, port });
  const parser = mqtt.parser({ protocolVersion: 4 });
  const got: mqtt.Packet[] = [];
  parser.on("packet", (p: mqtt.Packet) => got.push(p));
  socket.on("data", (d: Buffer) => parser.parse(d));
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  for (const packet of packets) socket.write(mqtt.generate(packet));
  for (let i = 0; i < 200 && !until(got) && !socket.destroyed; i++) await new Promise((r) => setTimeout(r, 10));
  socket.destroy();
  return got;
}

describe("MQTT over plain TCP, for TLS-terminating proxies", () => {
  let hub: TestHub;
  let key: string;

  before(async () => {
    hub = await startTestHub({ mqttPlainPort: 0 });
    const registry: any = iothub.Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    key = (await registry.create({ deviceId: "plain-dev" })).responseBody.authentication.symmetricKey.primaryKey;
  });
  after(() => hub.dispose());

  function connectPacket(password: string): mqtt.IConnectPacket {
    return { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: false, clientId: "plain-dev", keepalive: 0, username: `${hub.hostName}/plain-dev/?api-version=2021-04-12`, password: Buffer.from(password) };
  }

  test("a SAS device connects and its telemetry is acknowledged", async () => {
    assert.equal(typeof hub.ports.mqttPlain, "number");
    const token = createSasToken(encodeURIComponent(`${hub.hostName}/devices/plain-dev`), key, Math.ceil(Date.now() / 1000) + 3600);
    const got = await exchange(hub.ports.mqttPlain!, hub.hostName, [
      connectPacket(token),
      { cmd: "publish", topic: "devices/plain-dev/messages/events/", payload: Buffer.from("over tcp"), qos: 1, messageId: 7, retain: false, dup: false },
    ], (p) => p.some((x) => x.cmd === "puback"));
    assert.equal((got[0] as mqtt.IConnackPacket).returnCode, 0);
    assert.equal((got.find((p) => p.cmd === "puback") as mqtt.IPubackPacket | undefined)?.messageId, 7);
  });

  test("a bad token is refused with CONNACK 5, as over TLS", async () => {
    const got = await exchange(hub.ports.mqttPlain!, hub.hostName, [connectPacket("SharedAccessSignature sr=x&sig=y&se=1")], (p) => p.length > 0);
    assert.equal((got[0] as mqtt.IConnackPacket).returnCode, 5);
  });

  test("the plain listener is off unless configured", async () => {
    const other = await startTestHub();
    try {
      assert.equal(other.ports.mqttPlain, undefined);
    } finally {
      await other.dispose();
    }
  });
});
