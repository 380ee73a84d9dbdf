import { test } from "node:test";
import assert from "node:assert/strict";
import mqtt from "mqtt-packet";
import { PacketDecoder, type ClientPacket } from "./packet-decoder.js";

const MAX = 300 * 1024;

function decodeAll(chunks: readonly Buffer[], maxPacketBytes = MAX): { packets: ClientPacket[]; errors: Array<[string, boolean]> } {
  const packets: ClientPacket[] = [];
  const errors: Array<[string, boolean]> = [];
  const decoder = new PacketDecoder({ maxPacketBytes, onPacket: (p) => packets.push(p), onError: (m, tooLarge) => errors.push([m, tooLarge]) });
  for (const chunk of chunks) decoder.push(chunk);
  return { packets, errors };
}

function chunked(frames: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < frames.length; i += size) chunks.push(frames.subarray(i, i + size));
  return chunks;
}

/** What mqtt-packet's own parser makes of the frames, in this decoder's shape, as the reference. */
function reference(frames: Buffer): ClientPacket[] {
  const out: ClientPacket[] = [];
  const parser = mqtt.parser({ protocolVersion: 4 });
  parser.on("error", (e) => assert.fail(`mqtt-packet refused a reference frame: ${e.message}`));
  parser.on("packet", (p: mqtt.Packet) => {
    switch (p.cmd) {
      case "connect":
        return out.push({
          cmd: "connect", protocolId: p.protocolId!, protocolVersion: p.protocolVersion!, clean: p.clean!, keepalive: p.keepalive!, clientId: p.clientId,
          will: p.will === undefined || p.will === null ? undefined : { topic: p.will.topic, payload: Buffer.from(p.will.payload), qos: p.will.qos ?? 0, retain: p.will.retain ?? false },
          username: p.username, password: p.password,
        });
      case "publish":
        return out.push({ cmd: "publish", topic: p.topic, payload: Buffer.from(p.payload), qos: p.qos, dup: p.dup, retain: p.retain, messageId: p.qos > 0 ? p.messageId : undefined });
      case "subscribe":
        return out.push({ cmd: "subscribe", messageId: p.messageId!, subscriptions: p.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })) });
      case "unsubscribe":
        return out.push({ cmd: "unsubscribe", messageId: p.messageId!, unsubscriptions: p.unsubscriptions });
      case "puback":
      case "pubrec":
      case "pubrel":
      case "pubcomp":
        return out.push({ cmd: p.cmd, messageId: p.messageId! });
      case "pingreq":
      case "disconnect":
        return out.push({ cmd: p.cmd });
      default:
        return assert.fail(`no reference shape for ${p.cmd}`);
    }
  });
  parser.parse(frames);
  return out;
}

const FRAME_LIST = [
  mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: false, clientId: "dev1", keepalive: 60, username: "h.azure-devices.net/dev1/?api-version=2021-04-12", password: Buffer.from("SharedAccessSignature sr=x&sig=y&se=1") }),
  mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId: "", keepalive: 0 }),
  mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId: "w", keepalive: 5, will: { topic: "devices/w/messages/events/", payload: Buffer.from("gone"), qos: 1, retain: true }, username: "u" }),
  mqtt.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$iothub/methods/POST/#", qos: 0 }, { topic: "devices/dev1/messages/devicebound/#", qos: 1 }] }),
  mqtt.generate({ cmd: "publish", topic: "devices/dev1/messages/events/a=1&%24.ct=application%2Fjson", payload: Buffer.alloc(70_000, 7), qos: 1, messageId: 2, retain: false, dup: false }),
  mqtt.generate({ cmd: "publish", topic: "devices/dév1/messages/events/", payload: Buffer.alloc(0), qos: 0, retain: true, dup: false }),
  mqtt.generate({ cmd: "publish", topic: "$iothub/twin/PATCH/properties/reported/?$rid=3", payload: Buffer.from('{"a":1}'), qos: 2, messageId: 65535, retain: false, dup: true }),
  mqtt.generate({ cmd: "publish", topic: "devices/dev1/messages/events/", payload: Buffer.from("again"), qos: 1, messageId: 3, retain: false, dup: true }),
  mqtt.generate({ cmd: "publish", topic: "devices/dev1/messages/events/", payload: Buffer.from("two"), qos: 2, messageId: 4, retain: true, dup: false }),
  mqtt.generate({ cmd: "puback", messageId: 7 }),
  mqtt.generate({ cmd: "pubrec", messageId: 8 }),
  mqtt.generate({ cmd: "pubrel", messageId: 9 }),
  mqtt.generate({ cmd: "pubcomp", messageId: 10 }),
  mqtt.generate({ cmd: "unsubscribe", messageId: 11, unsubscriptions: ["$iothub/methods/POST/#", "$iothub/twin/res/#"] }),
  mqtt.generate({ cmd: "pingreq" }),
  mqtt.generate({ cmd: "disconnect" }),
];
const FRAMES = Buffer.concat(FRAME_LIST);

test("decodes every packet a client sends as mqtt-packet's parser does, however the bytes are cut", () => {
  const expected = reference(FRAMES);
  assert.equal(expected.length, 16);
  for (const size of [1, 2, 3, 7, 100, 4096, FRAMES.length]) {
    assert.deepEqual(decodeAll(chunked(FRAMES, size)), { packets: expected, errors: [] }, `chunks of ${size} bytes`);
  }
});

test("CONNECT of another protocol level is passed on with its level, for the session's CONNACK 1", () => {
  const v3 = mqtt.generate({ cmd: "connect", protocolId: "MQIsdp", protocolVersion: 3, clean: true, clientId: "old", keepalive: 0 });
  const v5 = mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, clientId: "new", keepalive: 0, properties: { sessionExpiryInterval: 10 } });
  const { packets, errors } = decodeAll([v3, v5]);
  assert.deepEqual(errors, []);
  assert.deepEqual(packets.map((p) => (p.cmd === "connect" ? [p.protocolId, p.protocolVersion] : p.cmd)), [["MQIsdp", 3], ["MQTT", 5]]);
});

test("the packets only a server sends are passed on by name, for the session to refuse", () => {
  const { packets, errors } = decodeAll([Buffer.from([0x20, 0x02, 0x00, 0x00, 0x90, 0x03, 0x00, 0x01, 0x00, 0xb0, 0x02, 0x00, 0x01, 0xd0, 0x00])]);
  assert.deepEqual(errors, []);
  assert.deepEqual(packets, [{ cmd: "connack" }, { cmd: "suback" }, { cmd: "unsuback" }, { cmd: "pingresp" }]);
});

test("a malformed packet is reported once, as malformed, and nothing after it is decoded", () => {
  const ping = Buffer.from([0xc0, 0x00]);
  const connect = (flags: number, rest: number[]) => Buffer.from([0x10, 10 + rest.length, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, 0x00, 0x00, ...rest]);
  const cases: Array<[string, Buffer, RegExp]> = [
    ["packet type 0", Buffer.from([0x00, 0x00]), /type 0 is reserved/],
    ["packet type 15", Buffer.from([0xf0, 0x00]), /type 15 is reserved/],
    ["SUBSCRIBE without flags 0b0010", Buffer.from([0x80, 0x00]), /subscribe packet: the flag bits must be 2, not 0/],
    ["PUBREL without flags 0b0010", Buffer.from([0x60, 0x02, 0x00, 0x01]), /pubrel packet: the flag bits must be 2/],
    ["PINGREQ with flags", Buffer.from([0xc1, 0x00]), /pingreq packet: the flag bits must be 0, not 1/],
    ["QoS 3 PUBLISH", Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]), /QoS 3/],
    ["QoS 1 PUBLISH with packet id 0", Buffer.from([0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00]), /packet identifier is 0/],
    ["a topic longer than the packet", Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]), /topic name is longer than the packet/],
    ["an HTTP request (a PUBACK with flags 7, announcing 69 bytes that never come)", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), /puback packet: the flag bits must be 0, not 7/],
    ["a remaining length in five bytes", Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]), /more than four bytes/],
    ["SUBSCRIBE with a QoS byte of 3", Buffer.from([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03]), /requested QoS byte is 3/],
    ["SUBSCRIBE with reserved bits", Buffer.from([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x41]), /requested QoS byte is 65/],
    ["SUBSCRIBE with no filter", Buffer.from([0x82, 0x02, 0x00, 0x01]), /no topic filter/],
    ["UNSUBSCRIBE with no filter", Buffer.from([0xa2, 0x02, 0x00, 0x01]), /no topic filter/],
    ["PINGREQ with a body", Buffer.from([0xc0, 0x01, 0x00]), /1 bytes follow the end of the pingreq packet/],
    ["PUBACK with extra bytes", Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00]), /follow the end of the puback packet/],
    ["CONNECT with the reserved flag", connect(0x03, [0x00, 0x00]), /reserved connect flag/],
    ["CONNECT with a password but no user name", connect(0x42, [0x00, 0x00, 0x00, 0x00]), /password is sent without a user name/],
    ["CONNECT with a will QoS but no will", connect(0x0a, [0x00, 0x00]), /without a will/],
    ["CONNECT with will QoS 3", connect(0x1e, [0x00, 0x00]), /will QoS is 3/],
    ["CONNECT 3.1.1 named other than MQTT", Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x58, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00]), /not 'MQTX'/],
    ["CONNECT cut short", Buffer.from([0x10, 0x02, 0x00, 0x00]), /protocol level is missing/],
  ];
  for (const [name, frame, message] of cases) {
    const { packets, errors } = decodeAll([frame, ping, ping]);
    assert.deepEqual(packets, [], name);
    assert.equal(errors.length, 1, name);
    assert.match(errors[0]![0], message, name);
    assert.equal(errors[0]![1], false, `${name}: not "too large"`);
  }
});

test("a packet announcing more than the limit is refused as soon as its length is read; the limit itself is accepted", () => {
  // QoS 0 PUBLISH announcing 100 MB (0x80 0x80 0x80 0x32), then only a few bytes of it.
  const huge = decodeAll([Buffer.from([0x30, 0x80, 0x80, 0x80, 0x32, 0x00, 0x05, 0x61])]);
  assert.deepEqual(huge.packets, []);
  assert.equal(huge.errors.length, 1);
  assert.equal(huge.errors[0]![1], true);

  const exact = mqtt.generate({ cmd: "publish", topic: "t", payload: Buffer.alloc(1000 - 3), qos: 0, retain: false, dup: false });
  assert.equal(exact.length - 3, 1000); // a 2-byte remaining length, announcing 1,000 bytes
  assert.deepEqual(decodeAll(chunked(exact, 100), 1000).errors, []);
  assert.equal(decodeAll(chunked(exact, 100), 999).errors[0]?.[1], true);
  // Whole in one chunk (a WebSocket frame can hold it all) it is refused the same way, never passed on.
  assert.deepEqual(decodeAll([exact], 999).packets, []);
});

test("a packet cut off waits in the decoder until the rest arrives", () => {
  const publish = mqtt.generate({ cmd: "publish", topic: "devices/d/messages/events/", payload: Buffer.alloc(1000, 1), qos: 1, messageId: 5, retain: false, dup: false });
  const packets: ClientPacket[] = [];
  const decoder = new PacketDecoder({ maxPacketBytes: MAX, onPacket: (p) => packets.push(p), onError: (m) => assert.fail(m) });
  decoder.push(publish.subarray(0, 1)); // not even the remaining length yet
  decoder.push(publish.subarray(1, 600));
  assert.equal(decoder.pendingBytes, 600);
  assert.deepEqual(packets, []);
  decoder.push(publish.subarray(600));
  assert.equal(decoder.pendingBytes, 0);
  assert.equal(packets.length, 1);
  assert.deepEqual(packets[0], reference(publish)[0]);
});

test("mutated and random input never throws: it decodes, waits, or reports one error and stops", () => {
  // A seeded generator (mulberry32), so a failure repeats.
  let seed = 0x5eed;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const below = (n: number): number => Math.floor(random() * n);
  const valid = Buffer.concat(FRAME_LIST.filter((frame) => frame.length < 1000)); // all but the 70 KB PUBLISH, to keep it quick
  for (let round = 0; round < 5000; round++) {
    const input = round % 5 === 0 ? Buffer.from(Array.from({ length: below(64) }, () => below(256))) : Buffer.from(valid.subarray(below(valid.length)));
    for (let flips = below(4); flips > 0 && input.length > 0; flips--) input[below(input.length)] = below(256);
    let errors = 0;
    let afterError = 0;
    const decoder = new PacketDecoder({
      maxPacketBytes: 4096,
      onPacket: () => void (errors > 0 && afterError++),
      onError: () => void errors++,
    });
    for (let at = 0; at < input.length; ) {
      const size = 1 + below(40);
      decoder.push(input.subarray(at, at + size));
      at += size;
    }
    assert.ok(errors <= 1, `round ${round}: ${errors} errors`);
    assert.equal(afterError, 0, `round ${round}: packets after the error`);
  }
});
