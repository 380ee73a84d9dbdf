import { resolve } from "node:path";
import { DEFAULT_CONFIG } from "../config/config.js";
import { SETTINGS } from "../config/load-config.js";

/** The data directory `malachite start` would use with the same `--data-dir` flag and environment. */
export function resolveDataDir(dataDir: string | undefined, env: Record<string, string | undefined>): string {
  const fromEnv = env[SETTINGS.find((s) => s.key === "dataDir")!.env];
  return resolve(dataDir ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_CONFIG.dataDir));
}
