/**
 * The hub side of `bench/registry.ts`: started as a child process (pinned to its own core) so the load generator does
 * not take the hub's CPU. Not meant to be run by hand, though it can be:
 *
 *   node --import tsx bench/registry-hub.ts --data-dir DIR --ca-dir DIR [--host 127.0.0.1]
 *
 * It starts a hub (SQLite store, synchronous=FULL) on the host with a free port, issuing the server certificate from
 * the CA in --ca-dir (ca.pem, ca-key.pem), and prints one JSON line `{"event":"ready",...}` on stdout. It then reads
 * JSON commands, one a line, on stdin:
 *
 *   {"cmd":"profile-start"}                 starts the V8 CPU profiler (node:inspector)
 *   {"cmd":"profile-stop","path":"x.cpuprofile"}  stops it and writes the profile
 *   {"cmd":"close"}                         closes the hub and exits
 *
 * and answers each with `{"event":"done","cmd":...}` (or `{"event":"error",...}`). When stdin ends (the parent died)
 * it closes the hub and exits too, so a crashed benchmark never leaves a hub behind.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startHub } from "../src/app.js";
import { createLogger } from "../src/observability/logger.js";
import { cpuProfiler, send, serveCommands } from "./harness.js";

const { values } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    "ca-dir": { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
  },
});
const dataDir = values["data-dir"];
const caDir = values["ca-dir"];
if (dataDir === undefined || caDir === undefined) {
  process.stderr.write("usage: registry-hub.ts --data-dir DIR --ca-dir DIR [--host 127.0.0.1]\n");
  process.exit(2);
}

const certPath = join(caDir, "ca.pem");
const hub = await startHub({
  dataDir,
  hostName: values.host,
  hubName: "bench-hub",
  bind: values.host,
  httpsPort: 0,
  // Free ports for every other listener too, so the benchmark never collides with a hub on the standard ports.
  mqttPort: 0,
  amqpPort: 0,
  logLevel: "silent",
  logger: createLogger({ level: "silent" }),
  issuer: { certPath, certPem: readFileSync(certPath, "utf8"), keyPem: readFileSync(join(caDir, "ca-key.pem"), "utf8") },
});

const profiler = cpuProfiler();
let closing = false;

async function close(): Promise<never> {
  if (!closing) {
    closing = true;
    profiler.disconnect();
    await hub.close();
  }
  process.exit(0);
}

async function handle(command: { cmd?: unknown; path?: unknown }): Promise<void> {
  switch (command.cmd) {
    case "profile-start":
      await profiler.start();
      return;
    case "profile-stop":
      await profiler.stop(String(command.path));
      return;
    case "close":
      await close();
      return;
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
  }
}

serveCommands(handle, close);

send({
  event: "ready",
  pid: process.pid,
  hostName: hub.hostName,
  port: hub.ports.https,
  connectionString: hub.connectionStrings["iothubowner"],
  caCertificatePath: hub.caCertificatePath,
  hubJsonPath: hub.hubJsonPath,
});
