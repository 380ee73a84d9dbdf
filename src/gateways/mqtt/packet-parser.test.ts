import { test } from "node:test";
import assert from "node:assert/strict";
import mqtt from "mqtt-packet";
import { createPacketParser } from "./packet-parser.js";

function parseAll(parser: mqtt.Parser, chunks: readonly Buffer[]): { packets: unknown[]; errors: string[] } {
  const packets: unknown[] = [];
  const errors: string[] = [];
  parser.on("packet", (p: mqtt.Packet) => packets.push({ ...p }));
  parser.on("error", (e: Error) => errors.push(e.message));
  for (const chunk of chunks) parser.parse(chunk);
  return { packets, errors };
}

const FRAMES = Buffer.concat([
  mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: false, clientId: "dev1", keepalive: 60, username: "h/dev1/?api-version=2021-04-12", password: Buffer.from("SharedAccessSignature sr=x&sig=y&se=1") }),
  mqtt.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$iothub/methods/POST/#", qos: 0 }] }),
  mqtt.generate({ cmd: "publish", topic: "devices/dev1/messages/events/a=1", payload: Buffer.alloc(70_000, 7), qos: 1, messageId: 2, retain: false, dup: false }),
  mqtt.generate({ cmd: "pingreq" }),
  mqtt.generate({ cmd: "disconnect" }),
]);

test("parses what mqtt-packet's parser parses, whatever the chunking", () => {
  const expected = parseAll(mqtt.parser({ protocolVersion: 4 }), [FRAMES]);
  assert.equal(expected.packets.length, 5);
  for (const size of [1, 2, 7, 100, 4096, FRAMES.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < FRAMES.length; i += size) chunks.push(FRAMES.subarray(i, i + size));
    assert.deepEqual(parseAll(createPacketParser({ protocolVersion: 4 }), chunks), expected, `chunks of ${size} bytes`);
  }
});

test("reports a malformed packet as mqtt-packet does, then parses on", () => {
  const bad = Buffer.from([0x10, 0x02, 0x00, 0x00]); // a CONNECT too short to hold a protocol name
  const good = mqtt.generate({ cmd: "pingreq" });
  const expected = parseAll(mqtt.parser({ protocolVersion: 4 }), [bad, good]);
  assert.ok(expected.errors.length > 0);
  assert.deepEqual(parseAll(createPacketParser({ protocolVersion: 4 }), [bad, good]), expected);
});

test("keeps the buffered length where the session's size check reads it", () => {
  const parser = createPacketParser({ protocolVersion: 4 }) as unknown as mqtt.Parser & { _list: { length: number }; packet: { length: number } };
  const publish = mqtt.generate({ cmd: "publish", topic: "devices/d/messages/events/", payload: Buffer.alloc(1000), qos: 0, retain: false, dup: false });
  parser.parse(publish.subarray(0, 600));
  assert.equal(parser.packet.length, publish.length - 3); // the remaining length the fixed header announced
  assert.ok(parser._list.length > 0 && parser._list.length <= 600);
});
