import type { CliDeps } from "./cli-deps.js";
import { runAdminCall } from "./hub-client.js";

type Output = Pick<CliDeps, "stdout" | "stderr">;


const path = (name: string): string => `/admin/consumer-groups/${encodeURIComponent(name)}`;

/** `malachite consumer-group list`: one name a line, `$Default` first. */
export function runConsumerGroupList(options: { dataDir?: string | undefined }, env: Record<string, string | undefined>, deps: Output): Promise<number> {
  return runAdminCall(options, env, deps, { method: "GET", path: "/admin/consumer-groups", expected: 200 }, (reply) =>
    (JSON.parse(reply.text) as { consumerGroups: string[] }).consumerGroups.map((name) => `${name}\n`).join(""),
  );
}

/** `malachite consumer-group add <name>`: creates the group (an existing one is left as it is). */
export function runConsumerGroupAdd(name: string, options: { dataDir?: string | undefined }, env: Record<string, string | undefined>, deps: Output): Promise<number> {
  return runAdminCall(options, env, deps, { method: "PUT", path: path(name), expected: 200 }, (reply) => `Consumer group ${(JSON.parse(reply.text) as { name: string }).name} exists\n`);
}

/** `malachite consumer-group remove <name>`: deletes the group; its receivers are disconnected. */
export function runConsumerGroupRemove(name: string, options: { dataDir?: string | undefined }, env: Record<string, string | undefined>, deps: Output): Promise<number> {
  return runAdminCall(options, env, deps, { method: "DELETE", path: path(name), expected: 204 }, () => `Consumer group ${name} removed\n`);
}
