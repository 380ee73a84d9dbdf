/**
 * The Aedes peer of `bench/mqtt-ingest.ts`: an Aedes broker with its default in-memory persistence behind a node:tls
 * server (the same certificate and key the hub serves), and on a plain node:net server on a second free port (the
 * `ingest-plain` scenario), in a child process the parent pins to the server core.
 *
 *   node --import tsx bench/mqtt-aedes.ts --cert server.pem --key server-key.pem [--host 127.0.0.1]
 *
 * Prints `{"event":"ready","pid":…,"port":…,"plainPort":…,"version":…}` on stdout once both listen; exits when stdin
 * ends (the parent closed it or died). Anyone may connect: no authentication, as the benchmark's peers take a plain CONNECT.
 */
import { readFileSync } from "node:fs";
import { createServer as createNetServer, type Socket } from "node:net";
import { createServer } from "node:tls";
import { parseArgs } from "node:util";
import aedes from "aedes";
import { listenOnFreePort, peerTlsOptions, send, TLS_SERVER_OPTIONS, usage } from "./harness.js";

const { values } = parseArgs({ options: TLS_SERVER_OPTIONS });
const { cert, key } = values;
if (cert === undefined || key === undefined) usage("mqtt-aedes.ts --cert FILE --key FILE [--host 127.0.0.1]");

const version = (JSON.parse(readFileSync(new URL("../node_modules/aedes/package.json", import.meta.url), "utf8")) as { version: string }).version;
// Default options: in-memory persistence (aedes-persistence) and mqemitter; client ids up to 23 characters.
const broker = aedes.createBroker();
/** One connection, TLS or plain TCP. */
function handle(socket: Socket): void {
  // Nagle off, as the hub and Mosquitto (set_tcp_nodelay true) have it.
  socket.setNoDelay(true);
  broker.handle(socket);
}
const server = createServer(peerTlsOptions(cert, key), handle);
server.on("tlsClientError", () => undefined);
const plainServer = createNetServer(handle);

const [port, plainPort] = await Promise.all([listenOnFreePort(server, values.host), listenOnFreePort(plainServer, values.host)]);
send({ event: "ready", pid: process.pid, port, plainPort, version });

function close(): void {
  server.close();
  plainServer.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.stdin.on("data", () => undefined);
process.stdin.on("end", close);
process.stdin.on("close", close);
process.on("SIGTERM", close);
process.on("SIGINT", close);
