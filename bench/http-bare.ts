/**
 * The bare-Node peer of `bench/http-telemetry.ts`: a `node:https` server that does the minimum a telemetry endpoint
 * must do — read the whole request body, answer 204 — and nothing else: no routing, no authentication, no storage.
 * It serves the same certificate file as the hub, runs in its own child process pinned the same way, and keeps
 * connections alive like the hub (Fastify's default keep-alive timeout, 72 s). Not meant to be run by hand, though
 * it can be:
 *
 *   node [--cpu-prof --cpu-prof-dir DIR] --import tsx bench/http-bare.ts --cert server.pem --key server-key.pem [--host 127.0.0.1]
 *
 * It prints one JSON line `{"event":"ready","pid":…,"port":…}` on stdout, counts the requests it answered, and
 * answers the stdin commands `{"cmd":"count"}` (`{"event":"done","count":N}`) and `{"cmd":"close"}`. When stdin ends
 * (the parent died) it closes and exits through process.exit, so `node --cpu-prof` writes its profile.
 */
import { createServer } from "node:https";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { peerTlsOptions, send, TLS_SERVER_OPTIONS, usage } from "./harness.js";

const { values } = parseArgs({ options: TLS_SERVER_OPTIONS });
const { cert, key } = values;
if (cert === undefined || key === undefined) usage("http-bare.ts --cert FILE --key FILE [--host 127.0.0.1]");

let answered = 0;
const server = createServer({ ...peerTlsOptions(cert, key), keepAliveTimeout: 72_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    Buffer.concat(chunks); // the body, read in full (and dropped)
    answered++;
    res.statusCode = 204;
    res.end();
  });
});

await new Promise<void>((resolveListen, reject) => {
  server.once("error", reject);
  server.listen(0, values.host, () => resolveListen());
});

let closing = false;
function close(): void {
  if (closing) return;
  closing = true;
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() === "") return;
  let command: { cmd?: unknown };
  try {
    command = JSON.parse(line) as typeof command;
  } catch {
    send({ event: "error", message: `not JSON: ${line}` });
    return;
  }
  if (command.cmd === "count") send({ event: "done", cmd: "count", count: answered });
  else if (command.cmd === "close") close();
  else send({ event: "error", cmd: command.cmd, message: `unknown command ${JSON.stringify(command.cmd)}` });
});
lines.on("close", close);
process.on("SIGTERM", close);
process.on("SIGINT", close);

const address = server.address();
send({ event: "ready", pid: process.pid, port: typeof address === "object" && address !== null ? address.port : 0 });
