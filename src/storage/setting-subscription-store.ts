import type { Store } from "../hub/ports/store.js";

/**
 * MQTT persistent sessions kept in the store's settings, so subscriptions survive a hub restart as they survive a
 * reconnect: the SDK does not re-subscribe to twin responses or desired updates (device-protocol §2.8). Written
 * only when a device subscribes or unsubscribes, which is rare.
 */
export class SettingSubscriptionStore {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async load(identity: { deviceId: string; moduleId: string }): Promise<string[] | undefined> {
    const value = await this.#store.getSetting(this.#name(identity));
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : undefined;
  }

  async save(identity: { deviceId: string; moduleId: string }, filters: readonly string[]): Promise<void> {
    await this.#store.putSetting(this.#name(identity), [...filters]);
  }

  async clear(identity: { deviceId: string; moduleId: string }): Promise<void> {
    await this.#store.putSetting(this.#name(identity), undefined);
  }

  #name(identity: { deviceId: string; moduleId: string }): string {
    return `mqtt-session:${JSON.stringify([identity.deviceId, identity.moduleId])}`;
  }
}
