/**
 * Devices the benchmarks create in the hub with keys they choose (the bulk reply does not return keys): `Device`,
 * `makeDevices`, `newDeviceKey`, and `createSasDevices`, one bulk-create request.
 */
import { randomBytes } from "node:crypto";
import type { Agent } from "node:https";
import { API, requestText } from "./harness.js";

export interface Device {
  readonly id: string;
  readonly key: string;
}

/** A random symmetric key, base64, as the hub makes them. */
export const newDeviceKey = (): string => randomBytes(32).toString("base64");

/** `n` devices `{prefix}-000001`, `{prefix}-000002`, … with random keys. */
export function makeDevices(prefix: string, n: number): Device[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${String(i + 1).padStart(6, "0")}`, key: newDeviceKey() }));
}

/**
 * Creates `devices` (at most 100) with their keys (`authentication.type "sas"`) in one `POST /devices` to the hub at
 * host:port over `agent`; throws unless every record succeeded.
 */
export async function createSasDevices(agent: Agent, host: string, port: number, token: string, devices: readonly Device[]): Promise<void> {
  const records = devices.map((d) => ({
    id: d.id,
    importMode: "create",
    authentication: { type: "sas", symmetricKey: { primaryKey: d.key, secondaryKey: d.key } },
  }));
  const body = JSON.stringify(records);
  const headers = { authorization: token, "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(body)) };
  const reply = await requestText({ host, port, method: "POST", path: `/devices?${API}`, agent, headers }, body, 60_000, "bulk create got no answer within 60 s");
  if (reply.status !== 200 || (JSON.parse(reply.text) as { isSuccessful?: boolean }).isSuccessful !== true) {
    throw new Error(`bulk create answered ${reply.status}: ${reply.text.slice(0, 500)}`);
  }
}
