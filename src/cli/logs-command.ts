import { MAX_LOG_LIMIT, parseCategory, parseSince } from "../observability/resource-logs/log-query.js";
import { RESOURCE_LOG_CATEGORIES } from "../observability/resource-logs/render-record.js";
import type { CliDeps } from "./cli-deps.js";
import { resolveDataDir } from "./data-dir.js";
import { HubUnreachable, callHub, errorText } from "./hub-client.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./start-command.js";

export interface LogsOptions {
  readonly dataDir?: string | undefined;
  readonly category?: string | undefined;
  readonly device?: string | undefined;
  readonly since?: string | undefined;
  readonly limit?: string | undefined;
}

/** What is wrong with the options, worded for the user; undefined when they are usable. */
function problem(options: LogsOptions): string | undefined {
  if (options.category !== undefined && parseCategory(options.category) === undefined) {
    return `--category must be one of ${RESOURCE_LOG_CATEGORIES.join(", ")}`;
  }
  if (options.device !== undefined && options.device === "") return "--device must name a device";
  // Durations are counted back on the hub's clock, by the hub; here only the form is checked.
  if (options.since !== undefined && parseSince(options.since, 0) === undefined) {
    return "--since must be an ISO-8601 time (2026-03-04T10:15:00Z) or a duration such as 90s, 10m, 2h or 7d";
  }
  if (options.limit !== undefined && !(/^\d+$/.test(options.limit) && Number(options.limit) >= 1 && Number(options.limit) <= MAX_LOG_LIMIT)) {
    return `--limit must be a whole number from 1 to ${MAX_LOG_LIMIT}`;
  }
  return undefined;
}

/**
 * `malachite logs [--category c] [--device id] [--since t] [--limit n]`: prints the running hub's resource logs, one
 * JSON record per line, oldest first — the JSON Lines form Azure Monitor writes to storage (monitoring.md §3.2), so
 * the output can be fed to the same tools. Read through `GET /admin/logs` as iothubowner.
 */
export async function runLogs(options: LogsOptions, env: Record<string, string | undefined>, deps: Pick<CliDeps, "stdout" | "stderr">): Promise<number> {
  const wrong = problem(options);
  if (wrong !== undefined) {
    deps.stderr.write(`malachite: ${wrong}\n`);
    return EXIT_USAGE;
  }
  const parameters = new URLSearchParams();
  if (options.category !== undefined) parameters.set("category", options.category);
  if (options.device !== undefined) parameters.set("deviceId", options.device);
  if (options.since !== undefined) parameters.set("since", options.since);
  if (options.limit !== undefined) parameters.set("limit", options.limit);
  const query = parameters.toString();
  try {
    const dataDir = resolveDataDir(options.dataDir, env);
    const reply = await callHub(dataDir, "iothubowner", "GET", `/admin/logs${query === "" ? "" : `?${query}`}`);
    if (reply.status !== 200) {
      deps.stderr.write(`malachite: the hub refused (HTTP ${reply.status}): ${errorText(reply)}\n`);
      return EXIT_FAILURE;
    }
    const { records } = JSON.parse(reply.text) as { records: unknown[] };
    for (const record of records) deps.stdout.write(`${JSON.stringify(record)}\n`);
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof HubUnreachable)) throw error;
    deps.stderr.write(`malachite: ${error.message}\n`);
    return EXIT_FAILURE;
  }
}
