import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { createSasToken } from "../hub/index.js";
import type { CliDeps } from "./cli-deps.js";
import { resolveDataDir } from "./data-dir.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./start-command.js";

export interface C2dSendOptions {
  readonly dataDir?: string | undefined;
  readonly messageId?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly ack?: string | undefined;
  readonly ttl?: string | undefined;
  readonly property?: readonly string[] | undefined;
}

interface HubJson {
  readonly hostName: string;
  readonly ports: { readonly https: number };
  readonly caCertificatePath: string;
  readonly connectionStrings: Readonly<Record<string, string>>;
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
  let hub: HubJson;
  let ca: Buffer;
  try {
    hub = JSON.parse(await readFile(join(dataDir, "hub.json"), "utf8")) as HubJson;
    ca = await readFile(hub.caCertificatePath);
  } catch (error) {
    deps.stderr.write(`malachite: no running hub found in ${dataDir} (${(error as Error).message}); start one with \`malachite start\`\n`);
    return EXIT_FAILURE;
  }
  const service = hub.connectionStrings["service"] ?? "";
  const key = /SharedAccessKey=([^;]+)/.exec(service)?.[1] ?? "";
  const token = createSasToken(hub.hostName, key, Math.ceil(Date.now() / 1000) + 300, "service");
  const body = JSON.stringify({
    body: text,
    properties,
    ...(options.messageId === undefined ? {} : { messageId: options.messageId }),
    ...(options.correlationId === undefined ? {} : { correlationId: options.correlationId }),
    ...(options.ack === undefined ? {} : { ack: options.ack }),
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
  });
  const path = `/admin/devices/${encodeURIComponent(deviceId)}/messages/devicebound?api-version=2021-04-12`;
  try {
    const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        { host: hub.hostName, port: hub.ports.https, method: "POST", path, ca, headers: { authorization: token, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (res) => {
          let data = "";
          res.on("data", (chunk: Buffer) => (data += chunk.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: data }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    if (reply.status === 201) {
      deps.stdout.write(`Queued for ${deviceId}: ${reply.text}\n`);
      return EXIT_OK;
    }
    const message = (JSON.parse(reply.text) as { Message?: string }).Message ?? reply.text;
    deps.stderr.write(`malachite: the hub refused the message (HTTP ${reply.status}): ${message}\n`);
    return EXIT_FAILURE;
  } catch (error) {
    deps.stderr.write(`malachite: cannot reach the hub at ${hub.hostName}:${hub.ports.https}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}
