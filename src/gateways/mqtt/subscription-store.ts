/**
 * MQTT persistent sessions: the SDK connects with CleanSession=0 and does not re-subscribe to twin responses and
 * desired updates after a reconnect (device-protocol §2.8), so subscriptions outlive connections.
 */
export interface SubscriptionStore {
  load(identity: { deviceId: string; moduleId: string }): Promise<string[] | undefined>;
  save(identity: { deviceId: string; moduleId: string }, filters: readonly string[]): Promise<void>;
  clear(identity: { deviceId: string; moduleId: string }): Promise<void>;
}
