/**
 * The hub side of `bench/mqtt-ingest.ts`: a Malachite hub in a child process (pinned to its own core by the parent),
 * so the load generator never takes the hub's CPU. Not meant to be run by hand, though it can be:
 *
 *   node --import tsx bench/mqtt-hub.ts --data-dir DIR --cert server.pem --key server-key.pem [--host 127.0.0.1]
 *                                       [--storage sqlite|memory]
 *
 * It starts a hub on the host with free ports, serving the given certificate on every listener (the same file the
 * peer brokers get), and prints one JSON line `{"event":"ready",...}` on stdout with the MQTT and HTTPS ports and the
 * iothubowner and service connection strings. Then it reads JSON commands, one a line, on stdin:
 *
 *   {"cmd":"profile-start"}                        starts the V8 CPU profiler (node:inspector)
 *   {"cmd":"profile-stop","path":"x.cpuprofile"}   stops it and writes the profile
 *   {"cmd":"commit-stats"}                         answers {"event":"done","stats":{...}}: the telemetry log's group
 *                                                  commits since the previous commit-stats (count, records, times)
 *   {"cmd":"close"}                                closes the hub and exits
 *
 * and answers each with `{"event":"done","cmd":...}` (or `{"event":"error",...}`). When stdin ends (the parent died)
 * it closes the hub and exits, so a crashed benchmark never leaves a hub behind.
 *
 * Group-commit statistics come from wrapping SqliteTelemetryLog's (TypeScript-private) flush method at run time:
 * the number of records it takes off the queue and how long the synchronous commit blocks the event loop. Nothing
 * under src/ is changed; the wrapper costs two performance.now() calls and a short loop per commit.
 */
import { parseArgs } from "node:util";
import { startHub } from "../src/app.js";
import { createLogger } from "../src/observability/logger.js";
import { SqliteTelemetryLog } from "../src/storage/sqlite/sqlite-telemetry-log.js";
import { cpuProfiler, recordCommitStats, send, serveCommands } from "./harness.js";

const { values } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    storage: { type: "string", default: "sqlite" },
  },
});
const dataDir = values["data-dir"];
const storage = values.storage;
if (dataDir === undefined || values.cert === undefined || values.key === undefined || (storage !== "sqlite" && storage !== "memory")) {
  process.stderr.write("usage: mqtt-hub.ts --data-dir DIR --cert FILE --key FILE [--host 127.0.0.1] [--storage sqlite|memory]\n");
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------------------------
// Group-commit statistics (see the header)

const takeCommitStats = recordCommitStats(SqliteTelemetryLog, "bench/mqtt-hub.ts");

// ---------------------------------------------------------------------------------------------------------------
// The hub

const hub = await startHub({
  dataDir,
  hostName: values.host,
  hubName: "bench-hub",
  bind: values.host,
  httpsPort: 0,
  mqttPort: 0,
  amqpPort: 0,
  logLevel: "silent",
  logger: createLogger({ level: "silent" }),
  tlsCert: values.cert,
  tlsKey: values.key,
  storage,
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

async function handle(command: { cmd?: unknown; path?: unknown }): Promise<Record<string, unknown> | undefined> {
  switch (command.cmd) {
    case "profile-start":
      await profiler.start();
      return undefined;
    case "profile-stop":
      await profiler.stop(String(command.path));
      return undefined;
    case "commit-stats":
      return { stats: takeCommitStats() };
    case "close":
      return close();
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
  }
}

serveCommands(handle, close);

send({
  event: "ready",
  pid: process.pid,
  hostName: hub.hostName,
  httpsPort: hub.ports.https,
  mqttPort: hub.ports.mqtt,
  storage,
  connectionString: hub.connectionStrings["iothubowner"],
  // The `service` policy (ServiceConnect): what a back end uses to invoke direct methods.
  serviceConnectionString: hub.connectionStrings["service"],
});
