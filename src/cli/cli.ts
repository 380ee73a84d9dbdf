import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { DEFAULT_CONFIG, LOG_LEVELS, type Config } from "../config/config.js";
import { CONFIG_FILE_ENV, SETTINGS } from "../config/load-config.js";
import { createLogger } from "../observability/logger.js";
import { runCaAdd, runCaCreate, runCaList } from "./ca-command.js";
import { runC2dSend, type C2dSendOptions } from "./c2d-command.js";
import { runClock } from "./clock-command.js";
import { runLogs, type LogsOptions } from "./logs-command.js";
import { runConsumerGroupAdd, runConsumerGroupList, runConsumerGroupRemove } from "./consumer-group-command.js";
import { runExplain } from "./explain-command.js";
import { runFaultAdd, runFaultList, runFaultRemove, type FaultAddOptions } from "./fault-command.js";
import type { CliDeps } from "./cli-deps.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runStart } from "./start-command.js";

export type { CliDeps } from "./cli-deps.js";

const defaultDeps: CliDeps = {
  // Loaded on use, so `--help`, bad flags and the CLI's tests never load the hub and its native modules.
  startHub: async (options) => (await import("../app.js")).startHub(options),
  stdout: process.stdout,
  stderr: process.stderr,
  signals: process,
  exit: (code) => process.exit(code),
  createLogger: (level) => createLogger({ level }),
};

/** `(env MALACHITE_HTTPS_PORT, default 443)`, from the same table loadConfig reads, so help never drifts. */
function sources(key: keyof Config): string {
  const env = SETTINGS.find((s) => s.key === key)!.env;
  const fallback = DEFAULT_CONFIG[key];
  if (key === "hubName") return `(env ${env}, default: first label of the host name)`;
  return fallback === undefined ? `(env ${env})` : `(env ${env}, default ${String(fallback)})`;
}

function version(): string {
  try {
    // src/cli/ and dist/cli/ both sit two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * Runs the `malachite` command line and resolves with the process exit code: 0 success, 1 failure at run time,
 * 2 bad usage or configuration. `argv` is in process.argv form (node, script, args...).
 */
export async function runCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  overrides: Partial<CliDeps> = {},
): Promise<number> {
  const deps: CliDeps = { ...defaultDeps, ...overrides };
  let exitCode = EXIT_OK;

  const program = new Command("malachite")
    .description("A self-hosted server that behaves as Azure IoT Hub for the official Azure IoT SDKs.")
    .version(version(), "-V, --version")
    // Report parse errors as a thrown CommanderError instead of exiting, so runCli decides the code (2).
    .exitOverride()
    .configureOutput({ writeOut: (s) => void deps.stdout.write(s), writeErr: (s) => void deps.stderr.write(s) })
    .showHelpAfterError("(run with --help for usage)")
    .showSuggestionAfterError(true);

  program
    .command("start")
    .description("Start the hub and run until SIGINT or SIGTERM.")
    .option("--config <path>", `JSON file with any of the settings below, keys in camelCase (env ${CONFIG_FILE_ENV})`)
    .option("--data-dir <path>", `where the hub keeps its state and TLS material ${sources("dataDir")}`)
    .option("--host-name <name>", `host name in connection strings and the certificate ${sources("hostName")}`)
    .option("--hub-name <name>", `IoT Hub name ${sources("hubName")}`)
    .option("--bind <address>", `IP address to listen on ${sources("bind")}`)
    .option("--https-port <port>", `HTTPS and WebSocket port, 0 picks a free one ${sources("httpsPort")}`)
    .option("--mqtt-port <port>", `MQTT over TLS port, 0 picks a free one ${sources("mqttPort")}`)
    .option("--mqtt-plain-port <port>", `MQTT over plain TCP, off unless set; only behind a TLS-terminating proxy ${sources("mqttPlainPort")}`)
    .option("--amqp-port <port>", `AMQP over TLS port, 0 picks a free one ${sources("amqpPort")}`)
    .option("--metrics-port <port>", `Prometheus GET /metrics over plain HTTP, off unless set; 0 picks a free one ${sources("metricsPort")}`)
    .option("--tls-cert <path>", `PEM server certificate (chain) to use instead of a generated one ${sources("tlsCert")}`)
    .option("--tls-key <path>", `PEM private key of --tls-cert ${sources("tlsKey")}`)
    .option("--log-level <level>", `one of ${LOG_LEVELS.join(", ")} ${sources("logLevel")}`)
    .option(
      "--storage-connection-string <string>",
      `Azure Storage account (with AccountKey) for file upload, instead of the embedded Azurite ${sources("storageConnectionString")}`,
    )
    .option("--storage-container <name>", `blob container for file upload ${sources("storageContainer")}`)
    .option("--tier <tier>", `IoT Hub tier whose quota, throttles and features to enforce (F1, B1, B2, B3, S1, S2, S3), or none for no limits; default S1 ${sources("tier")}`)
    .option("--units <n>", `units of --tier, default 1 ${sources("units")}`)
    .option(
      "--limit <name=value>",
      "override one limit, repeatable, e.g. --limit dailyMessages=30 (env MALACHITE_LIMITS=\"a=1,b=2\"; names in docs/limits.md)",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .addHelpText(
      "after",
      "\nPrecedence: defaults < config file < environment < flags. Every problem is reported at once (exit code 2).",
    )
    .action(async (options: Record<string, unknown>) => {
      exitCode = await runStart(options, env, deps);
    });

  const ca = program.command("ca").description("Certificate authority tools.");
  ca.command("create")
    .description("Create a CA (ca.pem, ca-key.pem) to issue hub certificates from, e.g. one for a whole test run.")
    .option("--out <dir>", "directory to write ca.pem and ca-key.pem to", ".")
    .option("--common-name <name>", "subject common name of the CA", "Malachite CA")
    .option("--force", "replace existing files")
    .action(async (options: { out: string; commonName: string; force?: boolean }) => {
      exitCode = await runCaCreate(options, deps);
    });
  ca.command("add")
    .description(
      "Register a CA certificate with the hub, so devices of authentication type certificateAuthority whose " +
        "certificate chains up to it can connect (a running hub picks it up on its next start).",
    )
    .argument("<pem-file>", "PEM file with the CA certificate (basicConstraints CA=true)")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .action(async (pemFile: string, options: { dataDir?: string }) => {
      exitCode = await runCaAdd(pemFile, options, env, deps);
    });
  ca.command("list")
    .description("List the CA certificates registered with the hub.")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .action(async (options: { dataDir?: string }) => {
      exitCode = await runCaList(options, env, deps);
    });

  program
    .command("c2d")
    .description("Cloud-to-device messages.")
    .command("send")
    .description("Queue a cloud-to-device message for a device on the running hub (read from <data-dir>/hub.json).")
    .argument("<device-id>", "the device to send to")
    .argument("<text>", "the message body (UTF-8)")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .option("--message-id <id>", "message id")
    .option("--correlation-id <id>", "correlation id")
    .option("--ack <mode>", "feedback wanted: none, positive, negative or full")
    .option("--ttl <seconds>", "time to live (default 1 hour, at most 48 hours)")
    .option("--property <name=value>", "application property (repeatable)", (value: string, previous: string[] = []) => [...previous, value])
    .action(async (deviceId: string, text: string, options: C2dSendOptions) => {
      exitCode = await runC2dSend(deviceId, text, options, env, deps);
    });

  program
    .command("clock")
    .description("Show the running hub's clock, or advance it: TTLs, locks, token expiry and quota days follow it.")
    .option("--advance <seconds>", "move hub time forward by this many seconds")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .action(async (options: { dataDir?: string; advance?: string }) => {
      exitCode = await runClock(options, env, deps);
    });

  program
    .command("logs")
    .description("Print the running hub's Azure Monitor resource logs, one JSON record per line, oldest first.")
    .option("--category <category>", "only this category, e.g. Connections, DeviceTelemetry, DirectMethods")
    .option("--device <id>", "only records of this device")
    .option("--since <time>", "only records since an ISO-8601 time, or a duration back on the hub clock (90s, 10m, 2h, 7d)")
    .option("--limit <n>", "at most this many records, the newest (default 1000)")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .action(async (options: LogsOptions) => {
      exitCode = await runLogs(options, env, deps);
    });

  const consumerGroup = program
    .command("consumer-group")
    .description("Consumer groups of the built-in Event Hub-compatible endpoint on the running hub ($Default always exists).");
  consumerGroup
    .command("list")
    .description("List the consumer groups.")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .action(async (options: { dataDir?: string }) => {
      exitCode = await runConsumerGroupList(options, env, deps);
    });
  consumerGroup
    .command("add")
    .description("Create a consumer group (1-50 letters, digits, '.', '_' or '-'; at most 20 per hub).")
    .argument("<name>", "the consumer group name")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .action(async (name: string, options: { dataDir?: string }) => {
      exitCode = await runConsumerGroupAdd(name, options, env, deps);
    });
  consumerGroup
    .command("remove")
    .description("Delete a consumer group; its receivers are disconnected.")
    .argument("<name>", "the consumer group name")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .action(async (name: string, options: { dataDir?: string }) => {
      exitCode = await runConsumerGroupRemove(name, options, env, deps);
    });

  const fault = program
    .command("fault")
    .description("Fault injection on the running hub: make chosen operations fail, drop or wait (see README, \"Fault injection\").");
  fault
    .command("add")
    .description("Add a fault rule; prints its id.")
    .option("--error <error>", "an IoT Hub error code or name (e.g. 403002, ThrottlingException), or drop, refuseConnect, delay")
    .option("--operation <op>", "connect, d2c, c2d.send, c2d.receive, c2d.settle, twin.get, twin.reported, twin.desired, method.invoke, registry, query, fileUpload, or *")
    .option("--device <id>", "only calls of (or about) this device")
    .option("--module <id>", "only calls of this module of --device")
    .option("--protocol <protocol>", "only calls over mqtt, amqp or https")
    .option("--count <n>", "apply n times, then the rule is spent")
    .option("--probability <p>", "apply to this fraction of matching calls (0 < p <= 1)")
    .option("--seed <n>", "seed of --probability, so a run repeats exactly")
    .option("--after <seconds>", "start this many hub seconds from now")
    .option("--duration <seconds>", "stay active this many hub seconds")
    .option("--delay <seconds>", "for --error delay: how long the acknowledgement waits")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .action(async (options: FaultAddOptions) => {
      exitCode = await runFaultAdd(options, env, deps);
    });
  fault
    .command("list")
    .description("List the fault rules, with how often each has applied.")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .action(async (options: { dataDir?: string }) => {
      exitCode = await runFaultList(options, env, deps);
    });
  fault
    .command("remove")
    .description("Remove a fault rule.")
    .argument("<id>", "the rule id, as add and list print it")
    .option("--data-dir <path>", `the hub's data directory ${sources("dataDir")}`)
    .action(async (id: string, options: { dataDir?: string }) => {
      exitCode = await runFaultRemove(id, options, env, deps);
    });

  program
    .command("explain")
    .description("Explain an IoT Hub error (cause, what the SDKs do, what to change); without an argument, list them all.")
    .argument("[code-or-name]", "a six-digit code such as 403004, or a name such as DeviceMaximumQueueDepthExceeded")
    .action((query: string | undefined) => {
      exitCode = runExplain(query, deps);
    });

  try {
    await program.parseAsync([...argv], { from: "node" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end parsing through the same path as errors; they are successes.
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return EXIT_OK;
      return EXIT_USAGE;
    }
    deps.stderr.write(`malachite: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT_FAILURE;
  }
}
