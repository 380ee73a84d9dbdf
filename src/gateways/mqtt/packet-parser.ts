import { createRequire } from "node:module";
import mqtt from "mqtt-packet";

/**
 * A CONNECT (MQTT 3.1.1, clean session, keep-alive 0, client id "probe") and a PINGREQ, written out by hand: calling
 * mqtt-packet's generate() even once makes it build its cache of 65,536 two-byte buffers for packet ids (6 MB and
 * 65,536 objects that every full garbage collection would then mark, for the life of the hub, which never uses it).
 * Declared before `createPacketParser`, whose initializer reads it while the module is evaluated.
 */
const PROBE_FRAMES = [
  0x10, 17, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, 0x00, 0x05, 0x70, 0x72, 0x6f, 0x62, 0x65,
  0xc0, 0x00,
];

/**
 * An MQTT packet parser per connection. mqtt-packet's own keeps its input in a `bl` BufferListStream: a whole
 * readable-stream Duplex per connection, most of what a new parser costs and held for the connection's life, of which
 * it uses only the buffer-list methods (append, consume, length, readUInt8/16BE/32BE, slice, toString). This parser
 * is mqtt-packet's with bl's plain BufferList in its place (same methods, no stream), found the way mqtt-packet finds
 * it. Should mqtt-packet's internals not be what this expects, it is mqtt-packet's parser unchanged.
 */
export const createPacketParser: (options: { protocolVersion: number }) => mqtt.Parser = lightParser() ?? ((options) => mqtt.parser(options));

interface ParserInternals {
  packet: object;
  error: unknown;
  _list: unknown;
  _stateCounter: number;
  _resetState(): void;
  parser(options: object): mqtt.Parser;
}

function lightParser(): ((options: { protocolVersion: number }) => mqtt.Parser) | undefined {
  try {
    const sample = mqtt.parser({ protocolVersion: 4 }) as unknown as ParserInternals;
    const bl = createRequire(createRequire(import.meta.url).resolve("mqtt-packet"))("bl") as { BufferList?: new () => object };
    const BufferList = bl.BufferList;
    const Packet = sample.packet?.constructor as (new () => object) | undefined;
    const Parser = Object.getPrototypeOf(sample)?.constructor as (new () => ParserInternals) | undefined;
    const listMethods = ["append", "consume", "readUInt8", "readUInt16BE", "readUInt32BE", "slice", "toString"];
    if (
      typeof BufferList !== "function" || typeof Packet !== "function" || typeof Parser !== "function" ||
      typeof sample._resetState !== "function" || typeof sample._stateCounter !== "number" || !("_list" in sample) ||
      !listMethods.every((m) => typeof (BufferList.prototype as Record<string, unknown>)[m] === "function")
    ) {
      return undefined;
    }
    class LightParser extends Parser {
      override _resetState(): void {
        this.packet = new Packet!();
        this.error = null;
        this._list = new BufferList!();
        this._stateCounter = 0;
      }
    }
    const create = (options: { protocolVersion: number }): mqtt.Parser => new LightParser().parser(options);
    // It must parse as mqtt-packet's does; a CONNECT and a PINGREQ split across chunks make a quick check.
    const check = create({ protocolVersion: 4 });
    const seen: string[] = [];
    check.on("packet", (p: mqtt.Packet) => seen.push(p.cmd === "connect" ? `connect:${p.clientId}` : p.cmd));
    const frame = Buffer.from(PROBE_FRAMES);
    check.parse(frame.subarray(0, 5));
    check.parse(frame.subarray(5));
    return seen.join() === "connect:probe,pingreq" ? create : undefined;
  } catch {
    return undefined;
  }
}
