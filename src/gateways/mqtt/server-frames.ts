/**
 * The MQTT 3.1.1 packets the hub sends, encoded straight into one Buffer each. They sit on the hot paths (a PUBACK per
 * telemetry message, a PUBLISH per method call or twin reply, a CONNACK per connection), where a general encoder's
 * packet objects and intermediate buffers were a measurable share of the hub's CPU and garbage. Layouts from the
 * MQTT 3.1.1 specification, §2.2 (fixed header, remaining length) and §3.
 */

/** CONNACK (§3.2): session-present flag and return code. */
export function connackFrame(sessionPresent: boolean, returnCode: number): Buffer {
  return Buffer.from([0x20, 0x02, sessionPresent ? 1 : 0, returnCode]);
}

/** PUBACK (§3.4) for `packetId`. */
export function pubackFrame(packetId: number): Buffer {
  return Buffer.from([0x40, 0x02, packetId >> 8, packetId & 0xff]);
}

/** UNSUBACK (§3.11) for `packetId`. */
export function unsubackFrame(packetId: number): Buffer {
  return Buffer.from([0xb0, 0x02, packetId >> 8, packetId & 0xff]);
}

/** PINGRESP (§3.13). */
export function pingrespFrame(): Buffer {
  return Buffer.from([0xd0, 0x00]);
}

/** SUBACK (§3.9): one granted QoS (or 0x80) per filter of the SUBSCRIBE, in its order. */
export function subackFrame(packetId: number, granted: readonly number[]): Buffer {
  const remaining = 2 + granted.length;
  const frame = Buffer.allocUnsafe(1 + lengthBytes(remaining) + remaining);
  let at = writeFixedHeader(frame, 0x90, remaining);
  at = frame.writeUInt16BE(packetId, at);
  for (const qos of granted) at = frame.writeUInt8(qos, at);
  return frame;
}

/**
 * PUBLISH (§3.3), never DUP or RETAIN from the hub: the topic as a UTF-8 string with its length, the packet id for
 * QoS 1, then the payload as it is.
 */
export function publishFrame(topic: string, payload: Buffer, qos: 0 | 1, packetId?: number): Buffer {
  const topicBytes = Buffer.byteLength(topic, "utf8");
  if (topicBytes > 0xffff) throw new RangeError(`An MQTT topic is at most 65,535 bytes; this one is ${topicBytes}`);
  if (qos === 1 && packetId === undefined) throw new TypeError("A QoS 1 PUBLISH needs a packet id");
  const remaining = 2 + topicBytes + (qos === 1 ? 2 : 0) + payload.length;
  if (remaining > MAX_REMAINING) throw new RangeError(`An MQTT packet holds at most ${MAX_REMAINING} bytes after its fixed header`);
  const frame = Buffer.allocUnsafe(1 + lengthBytes(remaining) + remaining);
  let at = writeFixedHeader(frame, qos === 1 ? 0x32 : 0x30, remaining);
  at = frame.writeUInt16BE(topicBytes, at);
  at += frame.write(topic, at, "utf8");
  if (qos === 1) at = frame.writeUInt16BE(packetId!, at);
  payload.copy(frame, at);
  return frame;
}

/** §2.2.3: four bytes of seven bits. */
const MAX_REMAINING = 268_435_455;

function lengthBytes(remaining: number): number {
  return remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x200000 ? 3 : 4;
}

/** Writes the first byte and the variable-length remaining length; answers where the variable header starts. */
function writeFixedHeader(frame: Buffer, first: number, remaining: number): number {
  frame[0] = first;
  let at = 1;
  let left = remaining;
  do {
    let byte = left % 0x80;
    left = Math.floor(left / 0x80);
    if (left > 0) byte |= 0x80;
    frame[at++] = byte;
  } while (left > 0);
  return at;
}
