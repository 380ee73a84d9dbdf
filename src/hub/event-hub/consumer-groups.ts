import { HubError } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import { requireAllRights } from "../admin/clock-admin.js";
import type { Store } from "../ports/store.js";
import { SerialQueue } from "../../shared/serial-queue.js";

/** The store setting holding the consumer groups added besides `$Default`, as their names were first spelled. */
export const CONSUMER_GROUPS_SETTING = "eventHubConsumerGroups";

/** Every IoT hub's built-in endpoint has this group, and it cannot be deleted. */
export const DEFAULT_CONSUMER_GROUP = "$Default";

/** Learn, IoT Hub quotas: 20 consumer groups per hub on the standard tier, `$Default` included. */
export const MAX_CONSUMER_GROUPS = 20;

// ARM's rule for IoT Hub event hub consumer groups: 1-50 letters, digits, '.', '_' or '-', starting with a letter or digit.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/;

/** Event Hubs compares consumer group names without regard to case: the SDK's default is `$default`. */
function keyOf(name: string): string {
  return name.toLowerCase();
}

/**
 * The consumer groups of the built-in Event Hub-compatible endpoint. Managing them is an ARM operation on Azure
 * (`az iot hub consumer-group create`), so here it is an admin operation for a policy holding every right.
 */
export class ConsumerGroups {
  readonly #store: Store;
  readonly #writes = new SerialQueue();
  /** By lower-cased name; insertion order is creation order, `$Default` first. */
  #groups = new Map<string, string>([[keyOf(DEFAULT_CONSUMER_GROUP), DEFAULT_CONSUMER_GROUP]]);
  readonly #removedListeners: Array<(name: string) => void> = [];
  #loaded: Promise<void> | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Reads the groups kept in the store; operations wait for it, `has` and `resolve` see `$Default` only until then. */
  load(): Promise<void> {
    this.#loaded ??= (async () => {
      const stored = await this.#store.getSetting(CONSUMER_GROUPS_SETTING);
      const groups = new Map<string, string>([[keyOf(DEFAULT_CONSUMER_GROUP), DEFAULT_CONSUMER_GROUP]]);
      if (Array.isArray(stored)) {
        for (const name of stored) if (typeof name === "string" && NAME.test(name) && !groups.has(keyOf(name))) groups.set(keyOf(name), name);
      }
      this.#groups = groups;
    })();
    return this.#loaded;
  }

  /** Whether the group exists, whatever the case of `name`. */
  has(name: string): boolean {
    return this.#groups.has(keyOf(name));
  }

  /** The group's name as it was created (`$default` → `$Default`), or undefined. */
  resolve(name: string): string | undefined {
    return this.#groups.get(keyOf(name));
  }

  /** Hears about each deleted group, so its open receivers can be closed as Event Hubs closes them. */
  onRemoved(listener: (name: string) => void): void {
    this.#removedListeners.push(listener);
  }

  async list(ctx: CallContext): Promise<string[]> {
    requireAllRights(ctx);
    await this.load();
    return [...this.#groups.values()];
  }

  /**
   * Creates a group and returns its name. Creating one that exists (in any case) returns the existing name unchanged,
   * as an ARM PUT of an existing resource succeeds.
   */
  add(ctx: CallContext, name: string): Promise<string> {
    requireAllRights(ctx);
    return this.#writes.run(async () => {
      await this.load();
      const existing = this.#groups.get(keyOf(name));
      if (existing !== undefined) return existing;
      if (!NAME.test(name)) {
        throw new HubError("ArgumentInvalid", {
          trackingId: ctx.trackingId,
          message: `The consumer group name '${name}' is not valid: use 1-50 letters, digits, '.', '_' or '-', starting with a letter or digit`,
        });
      }
      if (this.#groups.size >= MAX_CONSUMER_GROUPS) {
        throw new HubError("ArgumentInvalid", {
          trackingId: ctx.trackingId,
          message: `The hub already has ${MAX_CONSUMER_GROUPS} consumer groups, the most an IoT hub may have; delete one first`,
        });
      }
      const groups = new Map(this.#groups).set(keyOf(name), name);
      await this.#save(groups);
      return name;
    });
  }

  /** Deletes a group; its open receivers are closed. */
  remove(ctx: CallContext, name: string): Promise<void> {
    requireAllRights(ctx);
    return this.#writes.run(async () => {
      await this.load();
      const key = keyOf(name);
      if (key === keyOf(DEFAULT_CONSUMER_GROUP)) {
        throw new HubError("InvalidOperation", { trackingId: ctx.trackingId, message: `The consumer group '${DEFAULT_CONSUMER_GROUP}' cannot be deleted` });
      }
      const existing = this.#groups.get(key);
      if (existing === undefined) throw new HubError("NotFound", { trackingId: ctx.trackingId, message: `The consumer group '${name}' does not exist` });
      const groups = new Map(this.#groups);
      groups.delete(key);
      await this.#save(groups);
      for (const listener of this.#removedListeners) listener(existing);
    });
  }

  async #save(groups: Map<string, string>): Promise<void> {
    // `$Default` is implied, never stored: it exists even in a store written before consumer groups existed.
    await this.#store.putSetting(CONSUMER_GROUPS_SETTING, [...groups.values()].filter((n) => n !== DEFAULT_CONSUMER_GROUP));
    this.#groups = groups;
  }
}
