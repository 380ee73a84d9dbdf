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
import { usage } from "./harness.js";
import { HUB_OPTIONS, serveHub, startBenchHub } from "./hub-child.js";

const { values } = parseArgs({
  options: {
    ...HUB_OPTIONS,
    "ca-dir": { type: "string" },
  },
});
const { "data-dir": dataDir, "ca-dir": caDir } = values;
if (dataDir === undefined || caDir === undefined) usage("registry-hub.ts --data-dir DIR --ca-dir DIR [--host 127.0.0.1]");

const certPath = join(caDir, "ca.pem");
const hub = await startBenchHub(dataDir, values.host, {
  issuer: { certPath, certPem: readFileSync(certPath, "utf8"), keyPem: readFileSync(join(caDir, "ca-key.pem"), "utf8") },
});

serveHub(
  hub,
  {
    hostName: hub.hostName,
    port: hub.ports.https,
    connectionString: hub.connectionStrings["iothubowner"],
    caCertificatePath: hub.caCertificatePath,
    hubJsonPath: hub.hubJsonPath,
  },
  { profiler: true },
);
