/**
 * The peer of `bench/amqp.ts`: a bare rhea 3 AMQP 1.0 server on TLS, in memory, with no IoT Hub logic, in a child
 * process pinned to the hub's core. It is what the same load generator measures Malachite against:
 *
 *   - `$cbs`: every put-token is answered at once with status-code 200 (no token is checked);
 *   - any other link the client sends on (device telemetry): rhea's receiver with its defaults (credit window 1000,
 *     autoaccept), so each message is accepted as soon as it is decoded;
 *   - `/messages/devicebound` (a back end's C2D sender): a trivial relay. Each message is accepted on receipt and
 *     forwarded (decoded and re-encoded by rhea) on the sender link a client attached with the source address named by
 *     the message's `to` (`/devices/{id}/messages/devicebound`); nothing is stored;
 *   - a receiver attaching `{entity}/ConsumerGroups/{cg}/Partitions/{p}`: events built like IoT Hub's (data body of
 *     `--event-bytes`, the Event Hubs annotations, `x-opt-enqueued-time` = now) sent as fast as the link's credit
 *     allows, forever.
 *
 *   node --import tsx bench/amqp-peer.ts --cert server.pem --key server-key.pem [--host 127.0.0.1] [--event-bytes 256]
 *
 * Prints `{"event":"ready","pid":…,"port":…,"version":…}` on stdout; answers `{"cmd":"stats"}` (messages received
 * and relayed, events sent) and `{"cmd":"close"}`; exits when stdin ends.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { parseArgs } from "node:util";
import rhea, { type EventContext, type Message, type Receiver, type Sender } from "rhea";
import { peerTlsOptions, send, serveCommands, TLS_SERVER_OPTIONS, usage } from "./harness.js";

const { values } = parseArgs({
  options: {
    ...TLS_SERVER_OPTIONS,
    "event-bytes": { type: "string", default: "256" },
  },
});
const { cert, key } = values;
if (cert === undefined || key === undefined) usage("amqp-peer.ts --cert FILE --key FILE [--host 127.0.0.1] [--event-bytes 256]");

const PARTITION = /^([^/]+)\/consumergroups\/([^/]+)\/partitions\/([^/]+)$/i;
const addressOf = (terminus: unknown): string =>
  String((terminus as { address?: unknown } | undefined)?.address ?? "")
    .replace(/^amqps?:\/\/[^/]*/i, "")
    .replace(/^\/+/, "")
    .toLowerCase();

const stats = { received: 0, relayed: 0, relayDropped: 0, eventsSent: 0, cbs: 0 };
/** Device-side C2D receivers (our sender links), by lower-cased address without the leading slash. */
const c2dSenders = new Map<string, Sender>();
const eventBody = Buffer.alloc(Number(values["event-bytes"]), 0x78);

const container = rhea.create_container({ id: "bench-peer" });

container.on("receiver_open", (context: EventContext) => {
  const receiver = context.receiver!;
  const address = addressOf(receiver.target);
  if (address === "$cbs") {
    receiver.on("message", (c: EventContext) => {
      stats.cbs++;
      const request = c.message!;
      const links = (c.session as unknown as { links: Record<string, Sender | Receiver> }).links;
      const sender = Object.values(links).find((l): l is Sender => l.is_sender() && addressOf(l.source) === "$cbs");
      sender?.send({
        correlation_id: request.message_id,
        to: request.reply_to,
        application_properties: { "status-code": rhea.types.wrap_int(200), "status-description": "OK" },
        body: null,
      } as Message);
    });
    return;
  }
  if (address === "messages/devicebound") {
    receiver.on("message", (c: EventContext) => {
      stats.received++;
      const message = c.message!;
      const to = String(message.to ?? "").replace(/^\/+/, "").toLowerCase();
      const sender = c2dSenders.get(to);
      if (sender === undefined || !sender.is_open()) {
        stats.relayDropped++;
        return;
      }
      sender.send(message);
      stats.relayed++;
    });
    return;
  }
  receiver.on("message", () => void stats.received++);
});

container.on("sender_open", (context: EventContext) => {
  const sender = context.sender!;
  const address = addressOf(sender.source);
  if (address === "$cbs") return;
  if (PARTITION.test(address)) {
    startEvents(sender);
    return;
  }
  c2dSenders.set(address, sender);
  sender.on("sender_close", () => {
    if (c2dSenders.get(address) === sender) c2dSenders.delete(address);
  });
});

interface Outgoing {
  readonly next_pending_delivery: number;
  available(): number;
}

/**
 * Sends events on a partition link as fast as its credit allows: rhea takes credit only when it writes a transfer,
 * so the deliveries queued but not written yet are counted against it (as the hub's partition sender does).
 */
function startEvents(sender: Sender): void {
  let sequenceNumber = 0;
  const queued: number[] = [];
  const room = (): number => {
    const outgoing = (sender.session as unknown as { outgoing: Outgoing }).outgoing;
    while (queued.length > 0 && queued[0]! < outgoing.next_pending_delivery) queued.shift();
    return Math.min((sender as unknown as { credit: number }).credit - queued.length, outgoing.available());
  };
  const pump = (): void => {
    if (!sender.is_open()) return;
    for (let n = room(); n > 0; n--) {
      const now = Date.now();
      const delivery = sender.send({
        message_annotations: {
          "x-opt-sequence-number": rhea.types.wrap_long(sequenceNumber),
          "x-opt-offset": String(sequenceNumber * 1000),
          "x-opt-enqueued-time": new Date(now),
          "iothub-connection-device-id": "dev-000001",
          "iothub-connection-auth-method": '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
          "iothub-connection-auth-generation-id": "638000000000000000",
          "iothub-enqueuedtime": new Date(now),
          "iothub-message-source": "Telemetry",
        },
        user_id: Buffer.from("bench-hub"),
        application_properties: {},
        body: rhea.message.data_section(eventBody),
      } as unknown as Message);
      sequenceNumber++;
      stats.eventsSent++;
      queued.push(delivery.id);
    }
  };
  sender.on("sendable", pump);
  pump();
}

const server = container.listen({
  host: values.host,
  port: 0,
  transport: "tls",
  ...peerTlsOptions(cert, key),
  noDelay: true,
} as never);
// As the hub does for its AMQP sockets.
server.on("secureConnection", (socket: TLSSocket) => socket.setNoDelay(true));
container.on("error", () => undefined);
container.on("disconnected", () => undefined);

await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));

let closing = false;
async function close(): Promise<never> {
  if (!closing) {
    closing = true;
    server.close();
  }
  process.exit(0);
}

serveCommands(async (command: { cmd?: unknown }) => {
  switch (command.cmd) {
    case "stats":
      return { stats: { ...stats } };
    case "close":
      return close();
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
  }
}, close);

const rheaVersion = (JSON.parse(readFileSync(new URL("../node_modules/rhea/package.json", import.meta.url), "utf8")) as { version: string }).version;
send({ event: "ready", pid: process.pid, port: (server.address() as AddressInfo).port, version: rheaVersion });
