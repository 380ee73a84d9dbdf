import { test } from "node:test";
import assert from "node:assert/strict";
import mqtt from "mqtt-packet";
import { connackFrame, pingrespFrame, pubackFrame, publishFrame, subackFrame, unsubackFrame } from "./server-frames.js";

// mqtt-packet is what the device SDK (through mqtt.js) parses with: each frame must be byte for byte what its encoder
// writes for the same packet, and must parse back to the same fields.

function sameAsMqttPacket(frame: Buffer, packet: mqtt.Packet): void {
  assert.deepEqual(frame, mqtt.generate(packet));
  const parsed: mqtt.Packet[] = [];
  const parser = mqtt.parser({ protocolVersion: 4 });
  parser.on("packet", (p: mqtt.Packet) => parsed.push(p));
  parser.on("error", (e: Error) => assert.fail(e.message));
  parser.parse(frame);
  assert.equal(parsed.length, 1);
  assert.equal(parsed[0]!.cmd, packet.cmd);
}

test("CONNACK, PUBACK, UNSUBACK, PINGRESP are the 2- and 4-byte frames of MQTT 3.1.1", () => {
  for (const sessionPresent of [false, true]) {
    for (const returnCode of [0, 1, 2, 3, 4, 5]) sameAsMqttPacket(connackFrame(sessionPresent, returnCode), { cmd: "connack", returnCode, sessionPresent });
  }
  for (const messageId of [1, 255, 256, 4660, 65535]) {
    sameAsMqttPacket(pubackFrame(messageId), { cmd: "puback", messageId });
    sameAsMqttPacket(unsubackFrame(messageId), { cmd: "unsuback", messageId } as mqtt.Packet);
  }
  sameAsMqttPacket(pingrespFrame(), { cmd: "pingresp" });
});

test("SUBACK carries one granted QoS per filter", () => {
  sameAsMqttPacket(subackFrame(7, [0]), { cmd: "suback", messageId: 7, granted: [0] });
  sameAsMqttPacket(subackFrame(65535, [1, 0, 1, 0x80]), { cmd: "suback", messageId: 65535, granted: [1, 0, 1, 0x80] });
});

test("PUBLISH: QoS 0 and 1, UTF-8 topics, and payloads whose length takes 1 to 3 bytes to write", () => {
  const topics = ["$iothub/methods/POST/reboot/?$rid=1", "devices/dév-ü/messages/devicebound/%24.mid=1&k=%E2%82%AC", "t"];
  for (const topic of topics) {
    for (const size of [0, 1, 80, 127 - topic.length, 200, 16_383, 16_384, 70_000, 300_000]) {
      const payload = Buffer.alloc(Math.max(0, size), 0x5a);
      sameAsMqttPacket(publishFrame(topic, payload, 0), { cmd: "publish", topic, payload, qos: 0, retain: false, dup: false });
      sameAsMqttPacket(publishFrame(topic, payload, 1, 513), { cmd: "publish", topic, payload, qos: 1, messageId: 513, retain: false, dup: false });
    }
  }
});

test("PUBLISH refuses what MQTT cannot carry", () => {
  assert.throws(() => publishFrame("x".repeat(65_536), Buffer.alloc(0), 0), /at most 65,535 bytes/);
  assert.throws(() => publishFrame("t", Buffer.alloc(0), 1), /needs a packet id/);
});
