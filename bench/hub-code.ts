/**
 * Which build of the hub the benchmarks' hub children run. By default the compiled dist/, what `npm start` and the
 * `malachite` command run, so the figures are those of the code users run. `MALACHITE_BENCH_CODE=src` runs the
 * TypeScript sources through tsx instead (no build step, e.g. while
 * profiling a change). `startRun` (bench/harness.ts) builds dist/ once per benchmark and sets the variable, so the
 * children it spawns inherit the choice; every child loads the hub's modules through here, so a class a child wraps
 * (SqliteTelemetryLog's group commit) is the very class the hub it starts uses.
 */
import type * as AppModule from "../src/app.js";
import type * as LoggerModule from "../src/observability/logger.js";
import type * as TelemetryLogModule from "../src/storage/sqlite/sqlite-telemetry-log.js";

export type HubCode = "dist" | "src";

export const HUB_CODE_VARIABLE = "MALACHITE_BENCH_CODE";

export function hubCode(): HubCode {
  return process.env[HUB_CODE_VARIABLE] === "src" ? "src" : "dist";
}

async function load<T>(modulePath: string): Promise<T> {
  return (await import(new URL(`../${hubCode()}/${modulePath}`, import.meta.url).href)) as T;
}

export const loadApp = (): Promise<typeof AppModule> => load("app.js");
export const loadLogger = (): Promise<typeof LoggerModule> => load("observability/logger.js");
export const loadSqliteTelemetryLog = async (): Promise<typeof TelemetryLogModule.SqliteTelemetryLog> =>
  (await load<typeof TelemetryLogModule>("storage/sqlite/sqlite-telemetry-log.js")).SqliteTelemetryLog;
