import type { Store } from "../hub/ports/store.js";

/** Identities whose session this keeps in memory; past this it starts again from empty. */
const MAX_KNOWN = 100_000;

/** Setting names: this prefix, then the JSON array [deviceId, moduleId]. */
const PREFIX = "mqtt-session:";

/**
 * MQTT persistent sessions kept in the store's settings, so subscriptions survive a hub restart as they survive a
 * reconnect: the SDK does not re-subscribe to twin responses or desired updates (device-protocol §2.8). Written
 * only when a device subscribes or unsubscribes, which is rare.
 *
 * This is the only writer of these settings, so it remembers what each one holds once read or written: a reconnect
 * does not read the setting again, and a SUBSCRIBE or a CleanSession CONNECT that changes nothing does not write it.
 * `open` reads them all at once, so that a first connect (a new device, or every device after a restart) reads
 * nothing either: an identity missing from the whole set has no session.
 */
export class SettingSubscriptionStore {
  readonly #store: Store;
  /** Setting name → its filters (undefined: no session), as last read or written. */
  readonly #known = new Map<string, readonly string[] | undefined>();
  /** Bumped by every write: a read that started before a write is not remembered after it. */
  #writes = 0;
  /** #known holds every session there is (read whole by `open`, never cut back since): a name it lacks has none. */
  #complete = false;

  /** Knows nothing yet: each identity's setting is read on its first load. */
  constructor(store: Store) {
    this.#store = store;
  }

  /** Reads every session at once (at most MAX_KNOWN of them; with more, each is read on its first load as before). */
  static async open(store: Store): Promise<SettingSubscriptionStore> {
    const sessions = new SettingSubscriptionStore(store);
    const stored = await store.listSettings(PREFIX);
    if (stored.length <= MAX_KNOWN) {
      for (const { name, value } of stored) sessions.#known.set(name, filtersOf(value));
      sessions.#complete = true;
    }
    return sessions;
  }

  async load(identity: { deviceId: string; moduleId: string }): Promise<string[] | undefined> {
    const name = this.#name(identity);
    if (this.#known.has(name) || this.#complete) return copy(this.#known.get(name));
    const writes = this.#writes;
    const filters = filtersOf(await this.#store.getSetting(name));
    if (writes === this.#writes) this.#remember(name, copy(filters));
    return filters;
  }

  async save(identity: { deviceId: string; moduleId: string }, filters: readonly string[]): Promise<void> {
    const name = this.#name(identity);
    const known = this.#known.get(name);
    if (known !== undefined && sameList(known, filters)) return;
    this.#forget(name);
    await this.#store.putSetting(name, [...filters]);
    this.#remember(name, [...filters]);
  }

  async clear(identity: { deviceId: string; moduleId: string }): Promise<void> {
    const name = this.#name(identity);
    if ((this.#known.has(name) || this.#complete) && this.#known.get(name) === undefined) return;
    this.#forget(name);
    await this.#store.putSetting(name, undefined);
    this.#remember(name, undefined);
  }

  /**
   * Before a write: a read already under way must not be remembered after it, and a load during it reads the store.
   * With the whole set known nothing is read, so the entry stays and a load during the write answers what it replaces.
   */
  #forget(name: string): void {
    this.#writes++;
    if (!this.#complete) this.#known.delete(name);
  }

  #remember(name: string, filters: readonly string[] | undefined): void {
    if (this.#known.size >= MAX_KNOWN) {
      this.#known.clear();
      this.#complete = false;
    }
    // With the whole set known, "no session" needs no entry of its own.
    if (filters === undefined && this.#complete) this.#known.delete(name);
    else this.#known.set(name, filters);
  }

  #name(identity: { deviceId: string; moduleId: string }): string {
    return `${PREFIX}${JSON.stringify([identity.deviceId, identity.moduleId])}`;
  }
}

function filtersOf(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : undefined;
}

function copy(filters: readonly string[] | undefined): string[] | undefined {
  return filters === undefined ? undefined : [...filters];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
