/**
 * Decodes the MQTT 3.1.1 packets a client sends (decision 0015). Layouts and rules from the MQTT 3.1.1 specification:
 * §2.2 (fixed header, remaining length, flags), §1.5.3 (strings), §3 (each packet). It reads straight from the
 * socket's chunks and buffers only a packet that a chunk cut off, so a connection keeps no parser state worth the
 * name, and a PUBLISH costs a few object allocations rather than a general parser's stream and buffer list.
 *
 * It is strict where the specification says the server MUST close the connection: wrong flag bits, a QoS of 3, a
 * remaining length in more than four bytes, a packet shorter than its fields, reserved bits set, an empty SUBSCRIBE
 * or UNSUBSCRIBE. After an error it decodes nothing more: the session closes the connection.
 */

export interface ConnectPacket {
  readonly cmd: "connect";
  readonly protocolId: string;
  /** The protocol level: 4 for MQTT 3.1.1; anything else is answered with CONNACK 1 and the rest is not decoded. */
  readonly protocolVersion: number;
  readonly clean: boolean;
  readonly keepalive: number;
  readonly clientId: string;
  readonly will: { readonly topic: string; readonly payload: Buffer; readonly qos: number; readonly retain: boolean } | undefined;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
}

export interface PublishPacket {
  readonly cmd: "publish";
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly dup: boolean;
  readonly retain: boolean;
  /** Present for QoS 1 and 2. */
  readonly messageId: number | undefined;
}

export interface SubscribePacket {
  readonly cmd: "subscribe";
  readonly messageId: number;
  readonly subscriptions: ReadonlyArray<{ readonly topic: string; readonly qos: 0 | 1 | 2 }>;
}

export interface UnsubscribePacket {
  readonly cmd: "unsubscribe";
  readonly messageId: number;
  readonly unsubscriptions: readonly string[];
}

/** The acknowledgements of the QoS 1 and 2 flows: a packet id and nothing else. */
export interface AckPacket {
  readonly cmd: "puback" | "pubrec" | "pubrel" | "pubcomp";
  readonly messageId: number;
}

/** PINGREQ and DISCONNECT, and the packets only a server sends (a client sending one is refused by the session). */
export interface BarePacket {
  readonly cmd: "pingreq" | "disconnect" | "connack" | "suback" | "unsuback" | "pingresp";
}

export type ClientPacket = ConnectPacket | PublishPacket | SubscribePacket | UnsubscribePacket | AckPacket | BarePacket;

export interface PacketDecoderOptions {
  /** A packet whose remaining length announces more than this is refused as soon as its fixed header is read. */
  readonly maxPacketBytes: number;
  readonly onPacket: (packet: ClientPacket) => void;
  /** `tooLarge`: the announced length passed `maxPacketBytes`; otherwise a malformed packet. Called once, at most. */
  readonly onError: (message: string, tooLarge: boolean) => void;
}

/** Names by packet type (§2.2.1); types 0 and 15 are reserved. */
const NAMES = [
  undefined, "connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp",
  "subscribe", "suback", "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect", undefined,
] as const;

/** The flag bits each type must carry (§2.2.2); PUBLISH's carry DUP, QoS and RETAIN instead. */
const FLAGS = [0, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

class Malformed extends Error {}

/** A cursor over one whole packet's body, `end` exclusive; every read checks it stays inside. */
class Reader {
  constructor(
    readonly buf: Buffer,
    public at: number,
    readonly end: number,
  ) {}

  left(): number {
    return this.end - this.at;
  }

  byte(what: string): number {
    if (this.at + 1 > this.end) throw new Malformed(`${what} is missing`);
    return this.buf[this.at++]!;
  }

  uint16(what: string): number {
    if (this.at + 2 > this.end) throw new Malformed(`${what} is missing`);
    const value = (this.buf[this.at]! << 8) | this.buf[this.at + 1]!;
    this.at += 2;
    return value;
  }

  /** Binary data (§1.5.3 length-prefixed), as a view of the packet's bytes. */
  bytes(what: string): Buffer {
    const length = this.uint16(`the length of ${what}`);
    if (this.at + length > this.end) throw new Malformed(`${what} is longer than the packet`);
    const value = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }

  /** A UTF-8 string (§1.5.3). */
  string(what: string): string {
    const length = this.uint16(`the length of ${what}`);
    if (this.at + length > this.end) throw new Malformed(`${what} is longer than the packet`);
    const value = this.buf.toString("utf8", this.at, this.at + length);
    this.at += length;
    return value;
  }

  /** A packet identifier (§2.3.1): never 0. */
  packetId(): number {
    const id = this.uint16("the packet identifier");
    if (id === 0) throw new Malformed("the packet identifier is 0");
    return id;
  }
}

export class PacketDecoder {
  readonly #options: PacketDecoderOptions;
  /** Bytes of a packet a chunk cut off, waiting for the rest. */
  #parts: Buffer[] = [];
  #partBytes = 0;
  /** The whole size of the cut-off packet, once its fixed header is in; 0 before. */
  #need = 0;
  #failed = false;

  constructor(options: PacketDecoderOptions) {
    this.#options = options;
  }

  /** Bytes waiting for the rest of their packet. */
  get pendingBytes(): number {
    return this.#partBytes;
  }

  push(chunk: Buffer): void {
    if (this.#failed) return;
    let buf = chunk;
    if (this.#partBytes > 0) {
      this.#parts.push(chunk);
      this.#partBytes += chunk.length;
      // Copy the pieces together only once the packet is complete (or its header may be): a 256 KB PUBLISH arriving
      // in TLS records is copied once, not once per record.
      if (this.#need > 0 && this.#partBytes < this.#need) return;
      buf = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#partBytes);
      this.#parts = [];
      this.#partBytes = 0;
      this.#need = 0;
    }
    let at = 0;
    while (at < buf.length && !this.#failed) {
      const header = this.#fixedHeader(buf, at);
      if (header === undefined) break; // cut off, or refused
      const { bodyAt, bodyLength } = header;
      if (bodyAt + bodyLength > buf.length) {
        this.#need = bodyAt - at + bodyLength;
        break;
      }
      this.#decode(buf, at, bodyAt, bodyLength);
      at = bodyAt + bodyLength;
    }
    if (at < buf.length && !this.#failed) {
      this.#parts.push(buf.subarray(at));
      this.#partBytes = buf.length - at;
    }
  }

  /**
   * The remaining length (§2.2.3): 1 to 4 bytes of 7 bits, least significant first. Undefined when it is not all
   * here yet, or when it is refused (then #failed is set).
   */
  #fixedHeader(buf: Buffer, at: number): { bodyAt: number; bodyLength: number } | undefined {
    // The type and flags are judged from the first byte, before waiting for a body that may never come (an HTTP
    // request on the MQTT port reads as a PUBACK with flags 7 announcing 69 bytes).
    const type = buf[at]! >> 4;
    const flags = buf[at]! & 0x0f;
    const cmd = NAMES[type];
    if (cmd === undefined) return this.#fail(`MQTT packet: packet type ${type} is reserved`, false);
    if (FLAGS[type] !== -1 && flags !== FLAGS[type]) return this.#fail(`${cmd} packet: the flag bits must be ${FLAGS[type]}, not ${flags}`, false);
    let length = 0;
    let multiplier = 1;
    for (let i = 1; i <= 4; i++) {
      if (at + i >= buf.length) return undefined;
      const byte = buf[at + i]!;
      length += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        if (length > this.#options.maxPacketBytes) {
          return this.#fail(`${cmd} packet: it announces ${length} bytes, more than the ${this.#options.maxPacketBytes} accepted`, true);
        }
        return { bodyAt: at + i + 1, bodyLength: length };
      }
      multiplier *= 128;
    }
    return this.#fail(`${cmd} packet: the remaining length takes more than four bytes`, false);
  }

  /** One whole packet whose fixed header #fixedHeader accepted. */
  #decode(buf: Buffer, at: number, bodyAt: number, bodyLength: number): void {
    const cmd = NAMES[buf[at]! >> 4]!;
    const flags = buf[at]! & 0x0f;
    let packet: ClientPacket;
    try {
      const body = new Reader(buf, bodyAt, bodyAt + bodyLength);
      packet = decodeBody(cmd, flags, body);
      if (body.left() !== 0) throw new Malformed(`${body.left()} bytes follow the end of the ${cmd} packet`);
    } catch (error) {
      if (!(error instanceof Malformed)) throw error;
      return this.#fail(`${cmd} packet: ${error.message}`, false);
    }
    this.#options.onPacket(packet);
  }

  #fail(message: string, tooLarge: boolean): undefined {
    if (this.#failed) return;
    this.#failed = true;
    this.#parts = [];
    this.#partBytes = 0;
    this.#options.onError(message, tooLarge);
  }
}

function decodeBody(cmd: NonNullable<(typeof NAMES)[number]>, flags: number, body: Reader): ClientPacket {
  switch (cmd) {
    case "publish":
      return decodePublish(flags, body);
    case "connect":
      return decodeConnect(body);
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return { cmd, messageId: body.packetId() };
    case "subscribe":
      return decodeSubscribe(body);
    case "unsubscribe": {
      const messageId = body.packetId();
      const unsubscriptions: string[] = [];
      while (body.left() > 0) unsubscriptions.push(body.string("a topic filter"));
      if (unsubscriptions.length === 0) throw new Malformed("it names no topic filter"); // §3.10.3
      return { cmd, messageId, unsubscriptions };
    }
    default:
      // PINGREQ, DISCONNECT (§3.12, §3.14) and the server's own packets: no body the hub reads. Any bytes they carry
      // are reported as trailing by the caller, except for the server's packets, which the session refuses anyway.
      if (cmd !== "pingreq" && cmd !== "disconnect") body.at = body.end;
      return { cmd };
  }
}

/** PUBLISH (§3.3): DUP, QoS and RETAIN in the flags; the topic; a packet id for QoS 1 and 2; the rest is payload. */
function decodePublish(flags: number, body: Reader): PublishPacket {
  const qos = (flags >> 1) & 3;
  if (qos === 3) throw new Malformed("QoS 3 is not a QoS"); // §3.3.1.2
  const topic = body.string("the topic name");
  const messageId = qos > 0 ? body.packetId() : undefined;
  const payload = body.buf.subarray(body.at, body.end);
  body.at = body.end;
  return { cmd: "publish", topic, payload, qos: qos as 0 | 1 | 2, dup: (flags & 8) !== 0, retain: (flags & 1) !== 0, messageId };
}

/** CONNECT (§3.1). Only protocol level 4 is decoded past the level: the session answers any other with CONNACK 1. */
function decodeConnect(body: Reader): ConnectPacket {
  const protocolId = body.string("the protocol name");
  const protocolVersion = body.byte("the protocol level");
  if (protocolVersion !== 4) {
    body.at = body.end;
    return { cmd: "connect", protocolId, protocolVersion, clean: true, keepalive: 0, clientId: "", will: undefined, username: undefined, password: undefined };
  }
  if (protocolId !== "MQTT") throw new Malformed(`the protocol name of MQTT 3.1.1 is 'MQTT', not '${protocolId}'`); // §3.1.2.1
  const flags = body.byte("the connect flags");
  if ((flags & 0x01) !== 0) throw new Malformed("the reserved connect flag is set"); // §3.1.2.3
  const hasWill = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  const hasUsername = (flags & 0x80) !== 0;
  if (willQos === 3) throw new Malformed("the will QoS is 3"); // §3.1.2.6
  if (!hasWill && (willQos !== 0 || willRetain)) throw new Malformed("will QoS or will retain is set without a will"); // §3.1.2.6-7
  if (hasPassword && !hasUsername) throw new Malformed("a password is sent without a user name"); // §3.1.2.9
  const keepalive = body.uint16("the keep alive");
  const clientId = body.string("the client identifier");
  const will = hasWill ? { topic: body.string("the will topic"), payload: body.bytes("the will message"), qos: willQos, retain: willRetain } : undefined;
  const username = hasUsername ? body.string("the user name") : undefined;
  const password = hasPassword ? body.bytes("the password") : undefined;
  return { cmd: "connect", protocolId, protocolVersion, clean: (flags & 0x02) !== 0, keepalive, clientId, will, username, password };
}

/** SUBSCRIBE (§3.8): a packet id, then at least one topic filter with its requested QoS (upper six bits reserved). */
function decodeSubscribe(body: Reader): SubscribePacket {
  const messageId = body.packetId();
  const subscriptions: Array<{ topic: string; qos: 0 | 1 | 2 }> = [];
  while (body.left() > 0) {
    const topic = body.string("a topic filter");
    const options = body.byte("the requested QoS");
    if (options > 2) throw new Malformed(`the requested QoS byte is ${options}`); // §3.8.3.1
    subscriptions.push({ topic, qos: options as 0 | 1 | 2 });
  }
  if (subscriptions.length === 0) throw new Malformed("it names no topic filter"); // §3.8.3
  return { cmd: "subscribe", messageId, subscriptions };
}
