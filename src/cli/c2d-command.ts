import type { CliDeps } from "./cli-deps.js";
import { resolveDataDir } from "./data-dir.js";
import { HubUnreachable, callHub, errorText } from "./hub-client.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./start-command.js";

export interface C2dSendOptions {
  readonly dataDir?: string | undefined;
  readonly messageId?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly ack?: string | undefined;
  readonly ttl?: string | undefined;
  readonly property?: readonly string[] | undefined;
}


/**
 * `malachite c2d send <deviceId> <text>`: queues a cloud-to-device message on the running hub whose data directory
 * is given, through its HTTPS admin route with the `service` policy (IoT Hub itself takes C2D only over AMQP).
 */
export async function runC2dSend(deviceId: string, text: string, options: C2dSendOptions, env: Record<string, string | undefined>, deps: Pick<CliDeps, "stdout" | "stderr">): Promise<number> {
  const properties: Record<string, string> = {};
  for (const pair of options.property ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      deps.stderr.write(`malachite: --property '${pair}' is not name=value\n`);
      return EXIT_USAGE;
    }
    properties[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const ttlSeconds = options.ttl === undefined ? undefined : Number(options.ttl);
  if (ttlSeconds !== undefined && !(ttlSeconds > 0)) {
    deps.stderr.write(`malachite: --ttl must be a positive number of seconds\n`);
    return EXIT_USAGE;
  }
  const dataDir = resolveDataDir(options.dataDir, env);
  const message = {
    body: text,
    properties,
    ...(options.messageId === undefined ? {} : { messageId: options.messageId }),
    ...(options.correlationId === undefined ? {} : { correlationId: options.correlationId }),
    ...(options.ack === undefined ? {} : { ack: options.ack }),
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
  };
  try {
    const reply = await callHub(dataDir, "service", "POST", `/admin/devices/${encodeURIComponent(deviceId)}/messages/devicebound`, message);
    if (reply.status === 201) {
      deps.stdout.write(`Queued for ${deviceId}: ${reply.text}\n`);
      return EXIT_OK;
    }
    deps.stderr.write(`malachite: the hub refused the message (HTTP ${reply.status}): ${errorText(reply)}\n`);
    return EXIT_FAILURE;
  } catch (error) {
    if (!(error instanceof HubUnreachable)) throw error;
    deps.stderr.write(`malachite: ${error.message}\n`);
    return EXIT_FAILURE;
  }
}
