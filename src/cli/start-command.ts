import type { Config } from "../config/config.js";
import { loadConfig } from "../config/load-config.js";
import type { RunningHub } from "../app.js";
import { formatBanner } from "./banner.js";
import type { CliDeps } from "./cli-deps.js";

/** Exit codes: 0 stopped cleanly, 1 failed at run time, 2 bad usage or configuration. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * `malachite start`: load and check the configuration, start the hub, print how to reach it, run until SIGINT or
 * SIGTERM, then close it. A second signal while closing gives up waiting and exits with 1.
 */
export async function runStart(
  flags: Record<string, unknown>,
  env: Record<string, string | undefined>,
  deps: CliDeps,
): Promise<number> {
  const loaded = loadConfig({ flags, env });
  if (!loaded.ok) {
    deps.stderr.write(`Invalid configuration:\n${loaded.problems.map((p) => `  - ${p}\n`).join("")}`);
    return EXIT_USAGE;
  }
  const config = loaded.config;
  const logger = deps.createLogger(config.logLevel);

  let hub: RunningHub;
  try {
    hub = await deps.startHub({ ...config, logger });
  } catch (error) {
    logger.error({ err: error }, "Hub failed to start");
    deps.stderr.write(`Could not start the hub: ${messageOf(error)}\n${hint(error, config)}`);
    return EXIT_FAILURE;
  }

  deps.stdout.write(formatBanner(hub, config.bind, config));
  return waitForShutdown(hub, deps);
}

function waitForShutdown(hub: RunningHub, deps: CliDeps): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stopListening = () => {
      deps.signals.off("SIGINT", onSignal);
      deps.signals.off("SIGTERM", onSignal);
    };
    function onSignal(signal: NodeJS.Signals): void {
      if (stopping) {
        deps.stderr.write(`${signal} again: exiting without waiting for the hub to close.\n`);
        stopListening();
        resolve(EXIT_FAILURE);
        deps.exit(EXIT_FAILURE);
        return;
      }
      stopping = true;
      deps.stderr.write(`${signal} received: closing the hub (send it again to exit at once)...\n`);
      hub.close().then(
        () => {
          stopListening();
          resolve(EXIT_OK);
        },
        (error: unknown) => {
          deps.stderr.write(`The hub did not close cleanly: ${messageOf(error)}\n`);
          stopListening();
          resolve(EXIT_FAILURE);
        },
      );
    }
    deps.signals.on("SIGINT", onSignal);
    deps.signals.on("SIGTERM", onSignal);
  });
}

/** The two start failures everyone meets first, with what to do about them. */
function hint(error: unknown, config: Config): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const metrics = config.metricsPort === undefined ? "" : `, --metrics-port ${config.metricsPort}`;
  const ports = `--https-port ${config.httpsPort}, --mqtt-port ${config.mqttPort}, --amqp-port ${config.amqpPort}${metrics}`;
  if (code === "EACCES") {
    return (
      `Ports below 1024 (the default HTTPS port 443) need privileges on this system (${ports}). Either allow them ` +
      "(Linux: sudo sysctl net.ipv4.ip_unprivileged_port_start=443) or choose other ports; 0 picks free ones.\n"
    );
  }
  if (code === "EADDRINUSE") {
    return `Another process is listening on one of the ports (${ports}) at ${config.bind}. Stop it or choose other ports.\n`;
  }
  if (code === "EADDRNOTAVAIL") {
    return `The bind address ${config.bind} is not an address of this machine.\n`;
  }
  return "";
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
