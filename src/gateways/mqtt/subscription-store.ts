/**
 * MQTT persistent sessions: the SDK connects with CleanSession=0 and does not re-subscribe to twin responses and
 * desired updates after a reconnect (device-protocol §2.8), so subscriptions outlive connections.
 */
export interface SubscriptionStore {
  load(identity: { deviceId: string; moduleId: string }): Promise<string[] | undefined>;
  save(identity: { deviceId: string; moduleId: string }, filters: readonly string[]): Promise<void>;
  clear(identity: { deviceId: string; moduleId: string }): Promise<void>;
}

/** Keeps sessions for the life of the process. */
export class MemorySubscriptionStore implements SubscriptionStore {
  readonly #sessions = new Map<string, string[]>();

  async load(identity: { deviceId: string; moduleId: string }): Promise<string[] | undefined> {
    return this.#sessions.get(`${identity.deviceId}\u0000${identity.moduleId}`);
  }

  async save(identity: { deviceId: string; moduleId: string }, filters: readonly string[]): Promise<void> {
    this.#sessions.set(`${identity.deviceId}\u0000${identity.moduleId}`, [...filters]);
  }

  async clear(identity: { deviceId: string; moduleId: string }): Promise<void> {
    this.#sessions.delete(`${identity.deviceId}\u0000${identity.moduleId}`);
  }
}
