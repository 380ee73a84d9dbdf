/**
 * What the hub children (bench/amqp-hub.ts, http-hub.ts, mqtt-hub.ts, registry-hub.ts) share: their common
 * arguments (`HUB_OPTIONS`, `TLS_HUB_OPTIONS`), a hub on free ports (`startBenchHub`), and the stdin command
 * loop with the ready line (`serveHub`).
 */
import type { RunningHub, StartHubOptions } from "../src/app.js";
import { loadApp, loadLogger } from "./hub-code.js";
import { cpuProfiler, send, serveCommands, TLS_SERVER_OPTIONS } from "./harness.js";

/** parseArgs options of every hub child: --data-dir DIR [--host 127.0.0.1]. */
export const HUB_OPTIONS = {
  "data-dir": { type: "string" },
  host: TLS_SERVER_OPTIONS.host,
} as const;

/** parseArgs options of a hub child that serves a certificate file: --data-dir DIR --cert FILE --key FILE [--host 127.0.0.1]. */
export const TLS_HUB_OPTIONS = { ...HUB_OPTIONS, ...TLS_SERVER_OPTIONS } as const;

/**
 * startHub as the benchmarks run it: hub `bench-hub` on `host`, with a free port for every listener (so a benchmark
 * never collides with a hub on the standard ports), logging nothing; `options` add to that or override it.
 */
export async function startBenchHub(dataDir: string, host: string, options: StartHubOptions): Promise<RunningHub> {
  const [{ startHub }, { createLogger }] = await Promise.all([loadApp(), loadLogger()]);
  return startHub({
    dataDir,
    hostName: host,
    hubName: "bench-hub",
    bind: host,
    httpsPort: 0,
    mqttPort: 0,
    amqpPort: 0,
    logLevel: "silent",
    logger: options.logger ?? createLogger({ level: "silent" }),
    // The benchmarks measure the hub itself, far beyond S1's throttles (the default tier).
    tier: "none",
    ...options,
  });
}

export interface ServeHubOptions {
  /** Answer `{"cmd":"profile-start"}` and `{"cmd":"profile-stop","path":…}` with the V8 CPU profiler (node:inspector). */
  readonly profiler?: boolean;
  /** Answer `{"cmd":"commit-stats"}` with `{"stats":…}` from this (see recordCommitStats). */
  readonly commitStats?: () => object;
}

/**
 * Prints the ready line `{"event":"ready","pid":…,...ready}` and serves the parent's JSON commands (see serveCommands):
 * the profiler's and commit-stats when `options` say so, and `{"cmd":"close"}`; anything else is answered with an
 * error. Closing, also when stdin ends (the parent died) or on SIGTERM/SIGINT, closes the hub and leaves through
 * process.exit, so `node --cpu-prof` writes its profile.
 */
export function serveHub(hub: RunningHub, ready: Record<string, unknown>, options: ServeHubOptions = {}): void {
  const profiler = options.profiler === true ? cpuProfiler() : undefined;
  let closing = false;

  async function close(): Promise<never> {
    if (!closing) {
      closing = true;
      profiler?.disconnect();
      await hub.close();
    }
    process.exit(0);
  }

  async function handle(command: { cmd?: unknown; path?: unknown }): Promise<Record<string, unknown> | undefined> {
    if (profiler !== undefined && command.cmd === "profile-start") {
      await profiler.start();
      return undefined;
    }
    if (profiler !== undefined && command.cmd === "profile-stop") {
      await profiler.stop(String(command.path));
      return undefined;
    }
    if (options.commitStats !== undefined && command.cmd === "commit-stats") return { stats: options.commitStats() };
    if (command.cmd === "close") return close();
    throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
  }

  serveCommands(handle, close);
  send({ event: "ready", pid: process.pid, ...ready });
}
