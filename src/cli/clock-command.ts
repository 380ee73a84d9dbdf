import type { CliDeps } from "./cli-deps.js";
import { resolveDataDir } from "./data-dir.js";
import { HubUnreachable, callHub, errorText } from "./hub-client.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./start-command.js";

/** `malachite clock [--advance seconds]`: shows the running hub's clock, or moves it forward (iothubowner). */
export async function runClock(options: { dataDir?: string | undefined; advance?: string | undefined }, env: Record<string, string | undefined>, deps: Pick<CliDeps, "stdout" | "stderr">): Promise<number> {
  const seconds = options.advance === undefined ? undefined : Number(options.advance);
  if (seconds !== undefined && !(Number.isFinite(seconds) && seconds >= 0)) {
    deps.stderr.write("malachite: --advance must be a number of seconds, 0 or more (the hub clock never goes back)\n");
    return EXIT_USAGE;
  }
  try {
    const dataDir = resolveDataDir(options.dataDir, env);
    const reply = seconds === undefined ? await callHub(dataDir, "iothubowner", "GET", "/admin/clock") : await callHub(dataDir, "iothubowner", "POST", "/admin/clock", { advanceSeconds: seconds });
    if (reply.status !== 200) {
      deps.stderr.write(`malachite: the hub refused (HTTP ${reply.status}): ${errorText(reply)}\n`);
      return EXIT_FAILURE;
    }
    const status = JSON.parse(reply.text) as { now: string; offsetSeconds: number };
    deps.stdout.write(`Hub time ${status.now} (${status.offsetSeconds} s ahead of wall time)\n`);
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof HubUnreachable)) throw error;
    deps.stderr.write(`malachite: ${error.message}\n`);
    return EXIT_FAILURE;
  }
}
