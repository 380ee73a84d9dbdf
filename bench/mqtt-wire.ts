/**
 * The MQTT 3.1.1 devices of the load generators (bench/mqtt-ingest.ts, bench/amqp.ts) on the wire: the CONNECT the
 * Azure SDK sends (`connectFrame`), a reader of the packets in a byte stream, for the PUBACKs parsed by hand
 * (`MqttPacketReader`), and a device that subscribes to one topic and handles what is published to it
 * (`MqttSubscriber`).
 */
import { connect as tlsConnect, type SecureContext, type TLSSocket } from "node:tls";
import mqtt from "mqtt-packet";
import { createSasToken } from "../src/hub/index.js";
import type { Device } from "./devices.js";
import { API } from "./harness.js";

const EMPTY = Buffer.alloc(0);

/** DISCONNECT. */
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

/**
 * CONNECT as the Azure SDK sends it (MQTT 3.1.1, clean session false, keep-alive 60 s unless said), with the device's
 * SAS token unless `sas` is false (a plain CONNECT, for the peers).
 */
export function connectFrame(hostName: string, device: Device, { sas = true, keepalive = 60 }: { sas?: boolean; keepalive?: number } = {}): Buffer {
  const packet: mqtt.IConnectPacket = { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: false, clientId: device.id, keepalive };
  if (sas) {
    packet.username = `${hostName}/${device.id}/?${API}`;
    // The SDK signs and sends the URL-encoded resource; device-auth checks the signature over sr as sent and
    // decodes sr to check it covers {host}/devices/{id}.
    const resource = encodeURIComponent(`${hostName}/devices/${device.id}`);
    packet.password = Buffer.from(createSasToken(resource, device.key, Math.ceil(Date.now() / 1000) + 3600));
  }
  return mqtt.generate(packet);
}

/**
 * The whole MQTT packets in a byte stream, one at a time, without copying them: after `feed(chunk)`, each `next()`
 * that answers true stands on one packet (`buf`, its `type`, and `body`, where its variable header starts). A packet
 * cut at the end of a chunk is kept and completed by the next one.
 */
export class MqttPacketReader {
  buf: Buffer = EMPTY;
  type = 0;
  body = 0;
  #next = 0;
  #leftover: Buffer | undefined;

  feed(chunk: Buffer): void {
    let buf = chunk;
    if (this.#leftover !== undefined) {
      buf = Buffer.concat([this.#leftover, chunk]);
      this.#leftover = undefined;
    }
    this.buf = buf;
    this.#next = 0;
  }

  next(): boolean {
    const buf = this.buf;
    const i = this.#next;
    if (i + 2 <= buf.length) {
      // The remaining length: 1 to 4 bytes, 7 bits each, least significant first.
      let len = 0;
      let mul = 1;
      let j = i + 1;
      let b = 0;
      let complete = true;
      do {
        if (j >= buf.length) {
          complete = false;
          break;
        }
        b = buf[j++]!;
        len += (b & 127) * mul;
        mul *= 128;
      } while (b & 128);
      if (complete && j + len <= buf.length) {
        this.type = buf[i]! >> 4;
        this.body = j;
        this.#next = j + len;
        return true;
      }
    }
    if (i < buf.length) this.#leftover = Buffer.from(buf.subarray(i));
    this.buf = EMPTY;
    this.#next = 0;
    return false;
  }
}

/**
 * A device on MQTT/TLS (mqtt-packet's parser) that, once CONNACKed, subscribes to `topic` and hands every PUBLISH to
 * `publish`. `ready` settles with the SUBACK (rejected, and the socket destroyed, on a refusal, a closed connection
 * or 30 s without it); `onError` hears of parse and socket errors.
 */
export abstract class MqttSubscriber {
  readonly socket: TLSSocket;
  readonly ready: Promise<void>;
  closed = false;
  #onPacket: ((p: mqtt.Packet) => void) | undefined;

  constructor(
    host: string,
    port: number,
    context: SecureContext,
    connect: Buffer,
    subscription: { readonly topic: string; readonly qos: 0 | 1; readonly refused: string },
    onError: (where: "parse" | "socket", error: Error) => void,
  ) {
    this.socket = tlsConnect({ host, port, secureContext: context });
    this.socket.setNoDelay(true);
    const parser = mqtt.parser({ protocolVersion: 4 });
    parser.on("packet", (p: mqtt.Packet) => {
      if (this.#onPacket !== undefined) return this.#onPacket(p);
      if (p.cmd === "publish") this.publish(p);
    });
    parser.on("error", (e: Error) => onError("parse", e));
    this.socket.on("data", (chunk: Buffer) => parser.parse(chunk));
    this.socket.on("error", (e) => onError("socket", e));
    this.socket.on("close", () => (this.closed = true));
    this.ready = new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => (reject(new Error("no CONNACK/SUBACK within 30 s")), this.socket.destroy()), 30_000);
      this.socket.once("close", () => (clearTimeout(timer), reject(new Error("the connection closed before SUBACK"))));
      this.#onPacket = (p) => {
        if (p.cmd === "connack") {
          if (p.returnCode !== 0) return void (clearTimeout(timer), reject(new Error(`CONNACK return code ${p.returnCode}`)), this.socket.destroy());
          this.socket.write(mqtt.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: subscription.topic, qos: subscription.qos }] }));
        } else if (p.cmd === "suback") {
          clearTimeout(timer);
          this.#onPacket = undefined;
          if (p.granted[0] === 128) reject(new Error(subscription.refused));
          else resolveReady();
        }
      };
    });
    this.ready.catch(() => undefined);
    this.socket.once("secureConnect", () => this.socket.write(connect));
  }

  /** A PUBLISH on the subscription. */
  protected abstract publish(p: mqtt.IPublishPacket): void;

  /** DISCONNECT and close. */
  end(): void {
    if (!this.closed) this.socket.end(DISCONNECT);
  }
}
