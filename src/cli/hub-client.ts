import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { createSasToken } from "../hub/index.js";
import { resolveDataDir } from "./data-dir.js";
import { EXIT_FAILURE, EXIT_OK } from "./start-command.js";

interface HubJson {
  readonly hostName: string;
  readonly ports: { readonly https: number };
  readonly caCertificatePath: string;
  readonly connectionStrings: Readonly<Record<string, string>>;
}

export interface HubReply {
  readonly status: number;
  readonly text: string;
}

/** Why a CLI call to the running hub failed, worded for the user. */
export class HubUnreachable extends Error {}

/**
 * Calls the hub running from `dataDir` over HTTPS, as the policy `policy`, with what its hub.json says (host, port,
 * CA, keys): how the CLI reaches a running hub (DESIGN.md: everything but `start` goes through the HTTPS API).
 */
export async function callHub(dataDir: string, policy: string, method: string, path: string, body?: unknown): Promise<HubReply> {
  let hub: HubJson;
  let ca: Buffer;
  try {
    hub = JSON.parse(await readFile(join(dataDir, "hub.json"), "utf8")) as HubJson;
    ca = await readFile(hub.caCertificatePath);
  } catch (error) {
    throw new HubUnreachable(`no running hub found in ${dataDir} (${(error as Error).message}); start one with \`malachite start\``);
  }
  const key = /SharedAccessKey=([^;]+)/.exec(hub.connectionStrings[policy] ?? "")?.[1] ?? "";
  const token = createSasToken(hub.hostName, key, Math.ceil(Date.now() / 1000) + 300, policy);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string | number> = { authorization: token };
  if (payload !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  const separator = path.includes("?") ? "&" : "?";
  try {
    return await new Promise<HubReply>((resolve, reject) => {
      const req = request({ host: hub.hostName, port: hub.ports.https, method, path: `${path}${separator}api-version=2021-04-12`, ca, headers }, (res) => {
        let data = "";
        res.on("data", (chunk: Buffer) => (data += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: data }));
      });
      req.on("error", reject);
      req.end(payload);
    });
  } catch (error) {
    throw new HubUnreachable(`cannot reach the hub at ${hub.hostName}:${hub.ports.https}: ${(error as Error).message}`);
  }
}

/** The text of an IoT Hub error reply (`ErrorCode:<Name>;<text>`), or the raw body. */
export function errorText(reply: HubReply): string {
  try {
    return (JSON.parse(reply.text) as { Message?: string }).Message ?? reply.text;
  } catch {
    return reply.text;
  }
}

/** One admin call on the running hub and how the CLI reports it: `expected` is the success status. */
export interface AdminCall {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly expected: number;
}

/**
 * Runs `call` on the hub running from the data dir as iothubowner (the admin API wants a policy holding every right),
 * prints `print(reply)` on success or why it failed, and returns the exit code.
 */
export async function runAdminCall(
  options: { dataDir?: string | undefined },
  env: Record<string, string | undefined>,
  out: { readonly stdout: { write(text: string): unknown }; readonly stderr: { write(text: string): unknown } },
  call: AdminCall,
  print: (reply: HubReply) => string,
): Promise<number> {
  try {
    const reply = await callHub(resolveDataDir(options.dataDir, env), "iothubowner", call.method, call.path, call.body);
    if (reply.status !== call.expected) {
      out.stderr.write(`malachite: the hub refused (HTTP ${reply.status}): ${errorText(reply)}\n`);
      return EXIT_FAILURE;
    }
    out.stdout.write(print(reply));
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof HubUnreachable)) throw error;
    out.stderr.write(`malachite: ${error.message}\n`);
    return EXIT_FAILURE;
  }
}
