/**
 * The hub side of `bench/amqp.ts`: a Malachite hub (SQLite, durable) in a child process, pinned to its own core by
 * the parent. Not meant to be run by hand, though it can be:
 *
 *   node --import tsx bench/amqp-hub.ts --data-dir DIR --cert server.pem --key server-key.pem [--host 127.0.0.1]
 *                                       [--log-level silent|debug|…]   (the hub's log goes to stderr)
 *
 * It starts a hub on the host with free ports, serving the given certificate on every listener (the same file the
 * bare rhea peer gets), and prints one JSON line `{"event":"ready",...}` on stdout: the AMQP, MQTT and HTTPS ports, the
 * host and hub names, the connection strings of every policy and the Event Hub-compatible connection string. Then it
 * reads JSON commands, one a line, on stdin (see bench/mqtt-hub.ts, which this follows):
 *
 *   {"cmd":"profile-start"} / {"cmd":"profile-stop","path":"x.cpuprofile"}   the V8 CPU profiler (node:inspector)
 *   {"cmd":"commit-stats"}   the telemetry log's group commits since the previous commit-stats
 *   {"cmd":"close"}          closes the hub and exits
 *
 * When stdin ends (the parent died) it closes the hub and exits.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
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
    // Diagnosis: the hub's log (pino JSON) on stderr, which the parent passes through; stdout stays the protocol.
    "log-level": { type: "string", default: "silent" },
  },
});
const dataDir = values["data-dir"];
if (dataDir === undefined || values.cert === undefined || values.key === undefined) {
  process.stderr.write("usage: amqp-hub.ts --data-dir DIR --cert FILE --key FILE [--host 127.0.0.1]\n");
  process.exit(2);
}

const takeCommitStats = recordCommitStats(SqliteTelemetryLog, "bench/amqp-hub.ts");

const hub = await startHub({
  dataDir,
  hostName: values.host,
  hubName: "bench-hub",
  bind: values.host,
  httpsPort: 0,
  mqttPort: 0,
  amqpPort: 0,
  logLevel: values["log-level"] as "silent",
  logger: createLogger({ level: values["log-level"] as "silent", destination: pino.destination(2) }),
  tlsCert: values.cert,
  tlsKey: values.key,
  storage: "sqlite",
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
  hubName: hub.hubName,
  httpsPort: hub.ports.https,
  mqttPort: hub.ports.mqtt,
  amqpPort: hub.ports.amqp,
  connectionStrings: hub.connectionStrings,
  eventHubConnectionString: hub.eventHubConnectionString,
});
