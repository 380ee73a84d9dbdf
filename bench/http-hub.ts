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
import { startHub } from "../src/app.js";
import { createLogger } from "../src/observability/logger.js";
import { SqliteTelemetryLog } from "../src/storage/sqlite/sqlite-telemetry-log.js";
import { recordCommitStats, send, serveCommands } from "./harness.js";

const { values } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
  },
});
const dataDir = values["data-dir"];
if (dataDir === undefined || values.cert === undefined || values.key === undefined) {
  process.stderr.write("usage: http-hub.ts --data-dir DIR --cert FILE --key FILE [--host 127.0.0.1]\n");
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------------------------
// Group-commit statistics (see the header)

const takeCommitStats = recordCommitStats(SqliteTelemetryLog, "bench/http-hub.ts");

// ---------------------------------------------------------------------------------------------------------------
// The hub

const hub = await startHub({
  dataDir,
  hostName: values.host,
  hubName: "bench-hub",
  bind: values.host,
  httpsPort: 0,
  // Free ports for the other listeners too, so the benchmark never collides with a hub on the standard ports.
  mqttPort: 0,
  amqpPort: 0,
  logLevel: "silent",
  logger: createLogger({ level: "silent" }),
  tlsCert: values.cert,
  tlsKey: values.key,
  storage: "sqlite",
});

let closing = false;
async function close(): Promise<never> {
  if (!closing) {
    closing = true;
    await hub.close();
  }
  process.exit(0);
}

async function handle(command: { cmd?: unknown }): Promise<Record<string, unknown> | undefined> {
  switch (command.cmd) {
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
  connectionString: hub.connectionStrings["iothubowner"],
});
