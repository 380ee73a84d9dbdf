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
import { recordCommitStats, usage } from "./harness.js";
import { loadLogger, loadSqliteTelemetryLog } from "./hub-code.js";
import { serveHub, startBenchHub, TLS_HUB_OPTIONS } from "./hub-child.js";

const { values } = parseArgs({
  options: {
    ...TLS_HUB_OPTIONS,
    // Diagnosis: the hub's log (pino JSON) on stderr, which the parent passes through; stdout stays the protocol.
    "log-level": { type: "string", default: "silent" },
  },
});
const { "data-dir": dataDir, cert, key } = values;
if (dataDir === undefined || cert === undefined || key === undefined) usage("amqp-hub.ts --data-dir DIR --cert FILE --key FILE [--host 127.0.0.1]");

const takeCommitStats = recordCommitStats(await loadSqliteTelemetryLog(), "bench/amqp-hub.ts");

const logLevel = values["log-level"] as "silent";
const hub = await startBenchHub(dataDir, values.host, {
  logLevel,
  logger: (await loadLogger()).createLogger({ level: logLevel, destination: pino.destination(2) }),
  tlsCert: cert,
  tlsKey: key,
  storage: "sqlite",
});

serveHub(
  hub,
  {
    hostName: hub.hostName,
    hubName: hub.hubName,
    httpsPort: hub.ports.https,
    mqttPort: hub.ports.mqtt,
    amqpPort: hub.ports.amqp,
    connectionStrings: hub.connectionStrings,
    eventHubConnectionString: hub.eventHubConnectionString,
  },
  { profiler: true, commitStats: takeCommitStats },
);
