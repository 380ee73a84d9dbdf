import type { Store } from "../hub/ports/store.js";

/** Identities whose session this keeps in memory; past this it starts again from empty. */
const MAX_KNOWN = 100_000;

/**
 * MQTT persistent sessions kept in the store's settings, so subscriptions survive a hub restart as they survive a
 * reconnect: the SDK does not re-subscribe to twin responses or desired updates (device-protocol §2.8). Written
 * only when a device subscribes or unsubscribes, which is rare.
 *
 * This is the only writer of these settings, so it remembers what each one holds once read or written: a reconnect
 * does not read the setting again, and a SUBSCRIBE or a CleanSession CONNECT that changes nothing does not write it.
 */
export class SettingSubscriptionStore {
  readonly #store: Store;
  /** Setting name → its filters (undefined: no session), as last read or written. */
  readonly #known = new Map<string, readonly string[] | undefined>();
  /** Bumped by every write: a read that started before a write is not remembered after it. */
  #writes = 0;

  constructor(store: Store) {
    this.#store = store;
  }

  async load(identity: { deviceId: string; moduleId: string }): Promise<string[] | undefined> {
    const name = this.#name(identity);
    if (this.#known.has(name)) return copy(this.#known.get(name));
    const writes = this.#writes;
    const value = await this.#store.getSetting(name);
    const filters = Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : undefined;
    if (writes === this.#writes) this.#remember(name, copy(filters));
    return filters;
  }

  async save(identity: { deviceId: string; moduleId: string }, filters: readonly string[]): Promise<void> {
    const name = this.#name(identity);
    const known = this.#known.get(name);
    if (known !== undefined && sameList(known, filters)) return;
    this.#writes++;
    this.#known.delete(name);
    await this.#store.putSetting(name, [...filters]);
    this.#remember(name, [...filters]);
  }

  async clear(identity: { deviceId: string; moduleId: string }): Promise<void> {
    const name = this.#name(identity);
    if (this.#known.has(name) && this.#known.get(name) === undefined) return;
    this.#writes++;
    this.#known.delete(name);
    await this.#store.putSetting(name, undefined);
    this.#remember(name, undefined);
  }

  #remember(name: string, filters: readonly string[] | undefined): void {
    if (this.#known.size >= MAX_KNOWN) this.#known.clear();
    this.#known.set(name, filters);
  }

  #name(identity: { deviceId: string; moduleId: string }): string {
    return `mqtt-session:${JSON.stringify([identity.deviceId, identity.moduleId])}`;
  }
}

function copy(filters: readonly string[] | undefined): string[] | undefined {
  return filters === undefined ? undefined : [...filters];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
