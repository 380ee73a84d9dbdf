import type { HubEvent } from "../../hub/index.js";
import { type ConnectionFacts } from "./render-record.js";

/**
 * What each identity's latest connection looked like (protocol, auth method, SDK user agent, peer address), learnt
 * from `deviceConnected` events. IoT Hub repeats these facts in D2CTwinOperations and C2DCommands records
 * (monitoring.md §2.3, §2.7), whose events do not carry them. Entries outlive the connection, so a C2D message that
 * expires after its device left still names how the device last came in.
 */
export class ConnectionDirectory {
  readonly #entries = new Map<string, ConnectionFacts>();
  readonly #maxEntries: number;

  /** `maxEntries` bounds memory on hubs with very many identities: the least recently connected are forgotten. */
  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  observe(event: HubEvent): void {
    if (event.type !== "deviceConnected") return;
    const key = keyOf(event.deviceId, event.moduleId);
    // Re-inserted, so the map's order is the order of the latest connects.
    this.#entries.delete(key);
    this.#entries.set(key, { protocol: event.protocol, authType: event.authMethod, sdkVersion: event.sdkVersion, ipAddress: event.ipAddress });
    if (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  lookup(deviceId: string, moduleId: string): ConnectionFacts | undefined {
    return this.#entries.get(keyOf(deviceId, moduleId));
  }
}

function keyOf(deviceId: string, moduleId: string): string {
  return `${deviceId}\u0000${moduleId}`;
}
