/**
 * The bare-Node peer of `bench/mqtt-ingest.ts` (server kind `node-bare`): the floor any Node MQTT server pays. A
 * `node:tls` server with the TLS options of Malachite's listeners (peerTlsOptions: the same certificate and key, TLS 1.2
 * with IoT Hub's suites, a client certificate requested; Nagle off) that parses MQTT 3.1.1 by hand
 * (fixed header and remaining length; no mqtt-packet) and does the least a broker must: CONNECT → CONNACK accepted,
 * QoS 1 PUBLISH → PUBACK on receipt, SUBSCRIBE → SUBACK granting what was asked, UNSUBSCRIBE → UNSUBACK, PINGREQ →
 * PINGRESP, DISCONNECT → close. The same handler also serves a plain node:net server on a second free port (the
 * `ingest-plain` scenario). No authentication, no storage, no routing, no keep-alive timer. The answers to the
 * packets of one read go out in one write. Anything else (a first packet other than CONNECT, a second CONNECT, QoS 2,
 * which IoT Hub refuses too, a remaining length over 4 bytes, a malformed PUBLISH or SUBSCRIBE) closes the connection.
 *
 *   node --import tsx bench/mqtt-bare.ts --cert server.pem --key server-key.pem [--host 127.0.0.1]
 *
 * Prints `{"event":"ready","pid":…,"port":…,"plainPort":…,"version":…,"openssl":…}` (Node's and OpenSSL's versions)
 * on stdout once both listen; exits when stdin ends (the parent closed it or died).
 */
import { createServer as createNetServer, type Socket } from "node:net";
import { createServer } from "node:tls";
import { parseArgs } from "node:util";
import { listenOnFreePort, peerTlsOptions, send, TLS_SERVER_OPTIONS, usage } from "./harness.js";

const { values } = parseArgs({ options: TLS_SERVER_OPTIONS });
const { cert, key } = values;
if (cert === undefined || key === undefined) usage("mqtt-bare.ts --cert FILE --key FILE [--host 127.0.0.1]");

// MQTT 3.1.1 packet types (the high nibble of the first byte).
const CONNECT = 1;
const PUBLISH = 3;
const PUBACK = 4;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
const PINGREQ = 12;
const DISCONNECT = 14;

/** Answers one connection's packets; see the top of the file. */
function serve(socket: Socket): void {
  // Nagle off, as Malachite's listener has it.
  socket.setNoDelay(true);
  socket.on("error", () => undefined);
  let connected = false;
  let done = false;
  /** The start of a packet the last read cut off. */
  let rest: Buffer | undefined;

  socket.on("data", (chunk: Buffer) => {
    if (done) return;
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    rest = undefined;
    const out: number[] = [];
    const fail = (): void => {
      done = true;
      socket.destroy();
    };
    let i = 0;
    while (i < buf.length) {
      // The remaining length: 1 to 4 bytes after the first, 7 bits each, least significant first.
      let j = i + 1;
      let len = 0;
      let mul = 1;
      let b = 128;
      while (b & 128 && j < buf.length && j < i + 5) {
        b = buf[j++]!;
        len += (b & 127) * mul;
        mul *= 128;
      }
      if (b & 128) {
        if (j < i + 5) break; // the length goes on in the next read
        return fail(); // a fifth length byte
      }
      if (j + len > buf.length) break; // the body goes on in the next read
      const first = buf[i]!;
      const type = first >> 4;
      const end = j + len;
      i = end;
      if (!connected) {
        if (type !== CONNECT) return fail();
        connected = true;
        out.push(0x20, 2, 0, 0); // CONNACK: no session present, accepted
        continue;
      }
      if (type === PUBLISH) {
        const qos = (first >> 1) & 3;
        if (qos === 0) continue;
        if (qos !== 1 || j + 2 > end) return fail();
        const id = j + 2 + buf.readUInt16BE(j); // after the topic
        if (id + 2 > end) return fail();
        out.push(PUBACK << 4, 2, buf[id]!, buf[id + 1]!);
      } else if (type === SUBSCRIBE || type === UNSUBSCRIBE) {
        if (len < 2) return fail();
        const granted: number[] = [];
        for (let k = j + 2; k < end; ) {
          if (k + 2 > end) return fail();
          k += 2 + buf.readUInt16BE(k); // the topic filter
          if (type === SUBSCRIBE) {
            if (k >= end) return fail();
            const requested = buf[k++]!;
            granted.push(requested <= 2 ? requested : 0x80);
          } else if (k > end) return fail();
        }
        if (type === SUBSCRIBE) {
          if (granted.length === 0) return fail();
          // SUBACK: the packet id and one return code per filter, in order.
          out.push(0x90, ...remainingLength(2 + granted.length), buf[j]!, buf[j + 1]!, ...granted);
        } else out.push(0xb0, 2, buf[j]!, buf[j + 1]!); // UNSUBACK
      } else if (type === PINGREQ) {
        out.push(0xd0, 0); // PINGRESP
      } else if (type === DISCONNECT) {
        done = true;
        break;
      } else if (type !== PUBACK) {
        return fail(); // a second CONNECT, QoS 2 flows, anything a client does not send
      }
    }
    if (!done && i < buf.length) rest = buf.subarray(i);
    if (out.length > 0) socket.write(Buffer.from(out));
    if (done) socket.end();
  });
}

/** MQTT's remaining-length bytes for `n`. */
function remainingLength(n: number): number[] {
  const bytes: number[] = [];
  do {
    bytes.push((n % 128) | (n >= 128 ? 128 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return bytes;
}

const server = createServer(peerTlsOptions(cert, key), serve);
server.on("tlsClientError", () => undefined);
const plainServer = createNetServer(serve);

const [port, plainPort] = await Promise.all([listenOnFreePort(server, values.host), listenOnFreePort(plainServer, values.host)]);
send({ event: "ready", pid: process.pid, port, plainPort, version: process.versions.node, openssl: process.versions.openssl });

function close(): void {
  server.close();
  plainServer.close();
  process.exit(0);
}
process.stdin.on("data", () => undefined);
process.stdin.on("end", close);
process.stdin.on("close", close);
process.on("SIGTERM", close);
process.on("SIGINT", close);
