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
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { startHub } from "../src/app.js";
import { createLogger } from "../src/observability/logger.js";
import { SqliteTelemetryLog } from "../src/storage/sqlite/sqlite-telemetry-log.js";

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

function send(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Group-commit statistics (see the header)

interface QueuedAppend {
  readonly records: { length: number };
}
const batchSizes: number[] = [];
const commitMs: number[] = [];
{
  const proto = SqliteTelemetryLog.prototype as unknown as { flush(this: { queue: QueuedAppend[] }): void };
  const flush = proto.flush;
  if (typeof flush !== "function") throw new Error("SqliteTelemetryLog has no flush method to wrap; update bench/mqtt-hub.ts");
  const queued = (queue: readonly QueuedAppend[]): number => {
    let n = 0;
    for (let i = 0; i < queue.length; i++) n += queue[i]!.records.length;
    return n;
  };
  proto.flush = function wrappedFlush(this: { queue: QueuedAppend[] }): void {
    const before = queued(this.queue);
    const t0 = performance.now();
    flush.call(this);
    commitMs.push(performance.now() - t0);
    batchSizes.push(before - queued(this.queue));
  };
}

function takeCommitStats(): Record<string, number> {
  const sizes = batchSizes.splice(0).sort((a, b) => a - b);
  const times = commitMs.splice(0).sort((a, b) => a - b);
  const q = (xs: number[], p: number): number => (xs.length === 0 ? NaN : xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))]!);
  const records = sizes.reduce((s, n) => s + n, 0);
  const totalMs = times.reduce((s, n) => s + n, 0);
  return {
    commits: sizes.length,
    records,
    meanRecords: sizes.length === 0 ? NaN : records / sizes.length,
    p50Records: q(sizes, 0.5),
    maxRecords: q(sizes, 1),
    commitMsTotal: totalMs,
    commitMsP50: q(times, 0.5),
    commitMsP99: q(times, 0.99),
  };
}

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

let session: Session | undefined;
let closing = false;

async function close(): Promise<never> {
  if (!closing) {
    closing = true;
    if (session !== undefined) session.disconnect();
    await hub.close();
  }
  process.exit(0);
}

async function handle(command: { cmd?: unknown; path?: unknown }): Promise<Record<string, unknown> | undefined> {
  switch (command.cmd) {
    case "profile-start":
      session ??= new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
      return undefined;
    case "profile-stop": {
      if (session === undefined) throw new Error("the profiler is not running");
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      session = undefined;
      writeFileSync(String(command.path), JSON.stringify(profile));
      return undefined;
    }
    case "commit-stats":
      return { stats: takeCommitStats() };
    case "close":
      return close();
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() === "") return;
  let command: { cmd?: unknown; path?: unknown };
  try {
    command = JSON.parse(line) as typeof command;
  } catch {
    send({ event: "error", message: `not JSON: ${line}` });
    return;
  }
  handle(command).then(
    (extra) => send({ event: "done", cmd: command.cmd, ...extra }),
    (error: unknown) => send({ event: "error", cmd: command.cmd, message: String(error) }),
  );
});
lines.on("close", () => void close());
process.on("SIGTERM", () => void close());
process.on("SIGINT", () => void close());

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
