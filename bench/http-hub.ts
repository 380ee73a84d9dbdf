/**
 * The hub side of `bench/http-telemetry.ts`: a Malachite hub in a child process (pinned to its own core by the
 * parent), so the load generator never takes the hub's CPU. Not meant to be run by hand, though it can be:
 *
 *   node [--cpu-prof --cpu-prof-dir DIR] --import tsx bench/http-hub.ts --data-dir DIR --cert server.pem --key server-key.pem
 *                                                                       [--host 127.0.0.1]
 *
 * It starts a hub (SQLite store and telemetry log, WAL, synchronous=FULL) on the host with free ports, serving the
 * given certificate (the same files the bare-Node peer serves), and prints one JSON line `{"event":"ready",...}` on
 * stdout with the HTTPS port and the iothubowner connection string. Then it reads JSON commands, one a line, on stdin:
 *
 *   {"cmd":"commit-stats"}   answers {"event":"done","stats":{...}}: the telemetry log's group commits since the
 *                            previous commit-stats (count, records per commit, time the commits blocked the loop)
 *   {"cmd":"close"}          closes the hub and exits
 *
 * and answers each with `{"event":"done","cmd":...}` (or `{"event":"error",...}`). When stdin ends (the parent died)
 * it closes the hub and exits, so a crashed benchmark never leaves a hub behind. It always leaves through
 * process.exit, so `node --cpu-prof` writes its profile.
 *
 * Group-commit statistics come from wrapping SqliteTelemetryLog's (TypeScript-private) flush method at run time: the
 * number of records it takes off the queue and how long the synchronous commit blocks the event loop. Nothing under
 * src/ is changed; the wrapper costs two performance.now() calls and a short loop per commit.
 */
import { parseArgs } from "node:util";
import { recordCommitStats, usage } from "./harness.js";
import { loadSqliteTelemetryLog } from "./hub-code.js";
import { serveHub, startBenchHub, TLS_HUB_OPTIONS } from "./hub-child.js";

const { values } = parseArgs({ options: TLS_HUB_OPTIONS });
const { "data-dir": dataDir, cert, key } = values;
if (dataDir === undefined || cert === undefined || key === undefined) usage("http-hub.ts --data-dir DIR --cert FILE --key FILE [--host 127.0.0.1]");

// Group-commit statistics (see the header)
const takeCommitStats = recordCommitStats(await loadSqliteTelemetryLog(), "bench/http-hub.ts");

const hub = await startBenchHub(dataDir, values.host, { tlsCert: cert, tlsKey: key, storage: "sqlite" });

serveHub(
  hub,
  {
    hostName: hub.hostName,
    httpsPort: hub.ports.https,
    connectionString: hub.connectionStrings["iothubowner"],
  },
  { commitStats: takeCommitStats },
);
