import type { CliDeps } from "./cli-deps.js";
import { resolveDataDir } from "./data-dir.js";
import { HubUnreachable, callHub, errorText, type HubReply } from "./hub-client.js";
import { EXIT_FAILURE, EXIT_OK } from "./start-command.js";

type Output = Pick<CliDeps, "stdout" | "stderr">;

/**
 * Runs one admin call on the running hub as iothubowner (consumer groups are hub configuration, which IoT Hub leaves
 * to ARM owners) and prints its outcome; `expected` is the success status.
 */
async function run(
  options: { dataDir?: string | undefined },
  env: Record<string, string | undefined>,
  deps: Output,
  call: { method: string; path: string; expected: number },
  print: (reply: HubReply) => string,
): Promise<number> {
  try {
    const reply = await callHub(resolveDataDir(options.dataDir, env), "iothubowner", call.method, call.path);
    if (reply.status !== call.expected) {
      deps.stderr.write(`malachite: the hub refused (HTTP ${reply.status}): ${errorText(reply)}\n`);
      return EXIT_FAILURE;
    }
    deps.stdout.write(print(reply));
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof HubUnreachable)) throw error;
    deps.stderr.write(`malachite: ${error.message}\n`);
    return EXIT_FAILURE;
  }
}

const path = (name: string): string => `/admin/consumer-groups/${encodeURIComponent(name)}`;

/** `malachite consumer-group list`: one name a line, `$Default` first. */
export function runConsumerGroupList(options: { dataDir?: string | undefined }, env: Record<string, string | undefined>, deps: Output): Promise<number> {
  return run(options, env, deps, { method: "GET", path: "/admin/consumer-groups", expected: 200 }, (reply) =>
    (JSON.parse(reply.text) as { consumerGroups: string[] }).consumerGroups.map((name) => `${name}\n`).join(""),
  );
}

/** `malachite consumer-group add <name>`: creates the group (an existing one is left as it is). */
export function runConsumerGroupAdd(name: string, options: { dataDir?: string | undefined }, env: Record<string, string | undefined>, deps: Output): Promise<number> {
  return run(options, env, deps, { method: "PUT", path: path(name), expected: 200 }, (reply) => `Consumer group ${(JSON.parse(reply.text) as { name: string }).name} exists\n`);
}

/** `malachite consumer-group remove <name>`: deletes the group; its receivers are disconnected. */
export function runConsumerGroupRemove(name: string, options: { dataDir?: string | undefined }, env: Record<string, string | undefined>, deps: Output): Promise<number> {
  return run(options, env, deps, { method: "DELETE", path: path(name), expected: 204 }, () => `Consumer group ${name} removed\n`);
}
