/**
 * The hub as users run it: `npm start`, i.e. `node dist/main.js start` with flags, the compiled production entry
 * (no tsx, no TypeScript transpiled at start). For benchmarks that time a hub's start, such as the MQTT crash
 * scenario's restarts after kill -9 (benchmarking.md R1, "restart to first CONNACK ≤ 2 s").
 *
 * - `distHubArgv` is the command line; the caller spawns it (pinned to the servers' core like its other children).
 * - `startDistHub` waits for the CLI's `"Hub started"` log line (pino JSON on stdout, `--log-level info`): the hub
 *   logs it once every listener accepts connections and hub.json is written. It then reads the connection strings
 *   from hub.json and keeps draining stdout (a full pipe would block the hub's synchronous logger), passing on
 *   records at warn level and above.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DIST_MAIN, exitOf, log } from "./harness.js";

export interface DistHubConfig {
  readonly dataDir: string;
  readonly hostName: string;
  readonly hubName: string;
  readonly bind: string;
  readonly ports: { readonly https: number; readonly mqtt: number; readonly amqp: number };
  readonly tlsCert: string;
  readonly tlsKey: string;
  /** Default "none": the benchmarks measure the hub itself, far beyond S1's throttles. */
  readonly tier?: string;
}

/** `node dist/main.js start --data-dir … --log-level info --tier none`: every setting as a flag. */
export function distHubArgv(config: DistHubConfig): string[] {
  return [
    process.execPath,
    DIST_MAIN,
    "start",
    "--data-dir", config.dataDir,
    "--host-name", config.hostName,
    "--hub-name", config.hubName,
    "--bind", config.bind,
    "--https-port", String(config.ports.https),
    "--mqtt-port", String(config.ports.mqtt),
    "--amqp-port", String(config.ports.amqp),
    "--tls-cert", config.tlsCert,
    "--tls-key", config.tlsKey,
    "--log-level", "info",
    "--tier", config.tier ?? "none",
  ];
}

/** This process's environment without MALACHITE_* settings, so only the flags configure the hub. */
export function distHubEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("MALACHITE_")));
}

export interface DistHub {
  /** The hub's node process (the spawned process, after any exec'ing taskset/setpriv/sh wrappers). */
  readonly pid: number;
  readonly hostName: string;
  readonly ports: { readonly https: number; readonly mqtt: number; readonly amqp: number };
  /** From hub.json, keyed by policy name. */
  readonly connectionStrings: Readonly<Record<string, string>>;
  /** SIGTERM (the CLI closes the hub and exits); SIGKILL if it has not exited after `graceMs`. */
  close(graceMs?: number): Promise<void>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

/**
 * Waits (at most `timeoutMs`) for a spawned `distHubArgv` child's "Hub started" line and checks it listens on
 * `config.ports`; rejects if it exits first (its stderr, passed through, says why). `name` is what its log lines and
 * errors call it.
 */
export function startDistHub(child: ChildProcess, config: DistHubConfig, name: string, timeoutMs = 60_000): Promise<DistHub> {
  const exited = exitOf(child);
  const hub = (ready: Record<string, unknown>): DistHub => {
    const ports = ready["ports"] as { https: number; mqtt: number; amqp: number };
    const hubJson = JSON.parse(readFileSync(join(config.dataDir, "hub.json"), "utf8")) as { connectionStrings?: Record<string, string> };
    return {
      pid: child.pid!,
      hostName: String(ready["hostName"]),
      ports,
      connectionStrings: hubJson.connectionStrings ?? {},
      async close(graceMs = 30_000) {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
        if (child.exitCode !== 0) log(`${name}: exited with code ${child.exitCode}, signal ${child.signalCode} after SIGTERM`);
      },
      async kill() {
        child.kill("SIGKILL");
        await exited;
      },
    };
  };
  return new Promise((resolveHub, reject) => {
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`the ${name} did not log "Hub started" within ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", (code, signal) => fail(new Error(`the ${name} process exited before "Hub started" (code ${code}, signal ${signal})`)));
    // Kept reading for the child's whole life: the banner and info records are dropped, warnings and errors logged.
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (Number(record["level"]) >= 40) log(`${name}: ${line}`);
      if (settled || record["msg"] !== "Hub started") return;
      const ports = record["ports"] as Record<string, unknown> | undefined;
      const expected = config.ports;
      const wrong = (["https", "mqtt", "amqp"] as const).filter((p) => expected[p] !== 0 && ports?.[p] !== expected[p]);
      if (wrong.length > 0) return fail(new Error(`the ${name} listens on ${JSON.stringify(ports)}, not ${JSON.stringify(expected)}`));
      settled = true;
      clearTimeout(timer);
      try {
        resolveHub(hub(record));
      } catch (error) {
        child.kill("SIGKILL");
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}
