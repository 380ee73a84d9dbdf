/**
 * The hub side of `bench/mqtt-ingest.ts`: a Malachite hub in a child process (pinned to its own core by the parent),
 * so the load generator never takes the hub's CPU. Not meant to be run by hand, though it can be:
 *
 *   node --import tsx bench/mqtt-hub.ts --data-dir DIR --cert server.pem --key server-key.pem [--host 127.0.0.1]
 *                                       [--storage sqlite|memory]
 *
 * It starts a hub on the host with free ports, serving the given certificate on every listener (the same file the
 * peer brokers get), plus the plain-TCP MQTT listener (`mqttPlainPort`, off by default in the hub), and prints one JSON
 * line `{"event":"ready",...}` on stdout with the MQTT (TLS and plain) and HTTPS ports and the iothubowner and service
 * connection strings. Then it reads JSON commands, one a line, on stdin:
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
import { recordCommitStats, usage } from "./harness.js";
import { loadSqliteTelemetryLog } from "./hub-code.js";
import { serveHub, startBenchHub, TLS_HUB_OPTIONS } from "./hub-child.js";

const { values } = parseArgs({
  options: {
    ...TLS_HUB_OPTIONS,
    storage: { type: "string", default: "sqlite" },
  },
});
const { "data-dir": dataDir, cert, key, storage } = values;
if (dataDir === undefined || cert === undefined || key === undefined || (storage !== "sqlite" && storage !== "memory")) {
  usage("mqtt-hub.ts --data-dir DIR --cert FILE --key FILE [--host 127.0.0.1] [--storage sqlite|memory]");
}

// Group-commit statistics (see the header)
const takeCommitStats = recordCommitStats(await loadSqliteTelemetryLog(), "bench/mqtt-hub.ts");

const hub = await startBenchHub(dataDir, values.host, { tlsCert: cert, tlsKey: key, storage, mqttPlainPort: 0 });

serveHub(
  hub,
  {
    hostName: hub.hostName,
    httpsPort: hub.ports.https,
    mqttPort: hub.ports.mqtt,
    mqttPlainPort: hub.ports.mqttPlain,
    storage,
    connectionString: hub.connectionStrings["iothubowner"],
    // The `service` policy (ServiceConnect): what a back end uses to invoke direct methods.
    serviceConnectionString: hub.connectionStrings["service"],
  },
  { profiler: true, commitStats: takeCommitStats },
);
