import type { ClientInfo, DeviceCaller } from "../call-context.js";
import { HUB_ERRORS, type HubErrorName } from "../errors/index.js";
import type { HubEvents } from "../events/hub-event.js";
import type { Clock } from "../ports/clock.js";
import type { DeviceLink, DeviceSubscription } from "../ports/device-link.js";
import type { IdentityKey } from "../ports/store.js";
import type { HubTimers } from "../timers/hub-timers.js";
import type { HubLimits } from "../limits/hub-limits.js";
import type { FaultRules } from "../faults/fault-rules.js";

export interface ConnectInfo {
  readonly protocol: "mqtt" | "amqp";
  /** iothub-connection-auth-method, stamped on the device's messages. */
  readonly authMethod: string;
  readonly generationId: string;
  /** Peer address and SDK user agent, for the Connections resource log. */
  readonly client?: ClientInfo | undefined;
}

/** One live device or module connection, as the core tracks it. */
export interface DeviceConnection {
  readonly caller: DeviceCaller;
  readonly link: DeviceLink;
  readonly info: ConnectInfo;
  /** The gateway calls this when the device subscribes, so method calls waiting for it go ahead. */
  subscriptionsChanged(): void;
  /** The gateway calls this once the connection is gone; `reason` says why (undefined: the device disconnected). */
  closed(reason?: HubErrorName): Promise<void>;
}

export interface PresenceDeps {
  readonly clock: Clock;
  readonly timers: HubTimers;
  readonly events: HubEvents;
  /** Persists connectionState, connectionStateUpdatedTime and lastActivityTime in the registry. */
  readonly recordConnectionState: (key: IdentityKey, connected: boolean, time: number) => Promise<void>;
  /** Tier limits: the throttle on new device connections. */
  readonly hubLimits?: HubLimits;
  /** Fault injection (decision 0012): a rule that fires fails, delays or drops the call where it enters. */
  readonly faults?: FaultRules;
}

interface Waiter {
  readonly kind: DeviceSubscription;
  readonly resolve: (connection: DeviceConnection | undefined) => void;
}

function keyOf(deviceId: string, moduleId: string): string {
  return `${deviceId}\u0000${moduleId}`;
}

/**
 * A live connection: its fields and two methods that call back into Presence. A class rather than an object literal
 * with closures, because every connection keeps one for its whole life and the closures held connect()'s whole
 * context (about 1 KB per connection, measured with the sampling heap profiler).
 */
class LiveConnection implements DeviceConnection {
  open = true;

  constructor(
    readonly caller: DeviceCaller,
    readonly link: DeviceLink,
    readonly info: ConnectInfo,
    readonly key: string,
    private readonly presence: { wake(key: string): void; closed(connection: LiveConnection, reason: HubErrorName | undefined): Promise<void> },
  ) {}

  subscriptionsChanged(): void {
    this.presence.wake(this.key);
  }

  closed(reason?: HubErrorName): Promise<void> {
    return this.presence.closed(this, reason);
  }
}

/**
 * Who is connected, through which DeviceLink. IoT Hub keeps one connection per identity: a new one closes the old
 * with 400027 ConnectionForcefullyClosedOnNewConnection (troubleshooting guide).
 */
export class Presence {
  readonly #deps: PresenceDeps;
  readonly #connections = new Map<string, DeviceConnection>();
  /** What every LiveConnection calls back into (one object for all of them). */
  readonly #callbacks = {
    wake: (key: string): void => this.#wake(key),
    closed: (connection: LiveConnection, reason: HubErrorName | undefined): Promise<void> => this.#closed(connection, reason),
  };
  readonly #waiters = new Map<string, Set<Waiter>>();

  constructor(deps: PresenceDeps) {
    this.#deps = deps;
  }

  get connectedCount(): number {
    return this.#connections.size;
  }

  find(deviceId: string, moduleId: string): DeviceConnection | undefined {
    return this.#connections.get(keyOf(deviceId, moduleId));
  }

  /** Registers an authenticated connection, displacing any older one of the same identity. */
  async connect(caller: DeviceCaller, link: DeviceLink, info: ConnectInfo): Promise<DeviceConnection> {
    // Only a shaped connection waits: an admitted one registers in this same turn, as before throttles existed.
    const admitted = this.#deps.hubLimits?.admit({ caller, protocol: info.protocol }, "deviceConnect");
    if (admitted !== undefined) await admitted;
    const faulted = this.#deps.faults?.enter({ caller, protocol: info.protocol }, "connect");
    if (faulted !== undefined) await faulted;
    const key = keyOf(caller.deviceId, caller.moduleId);
    const previous = this.#connections.get(key);
    const connection = new LiveConnection(caller, link, info, key, this.#callbacks);
    this.#connections.set(key, connection);
    if (previous !== undefined) {
      previous.link.close("ConnectionForcefullyClosedOnNewConnection");
      await previous.closed("ConnectionForcefullyClosedOnNewConnection");
    }
    const time = this.#deps.clock.now();
    this.#deps.events.emit({
      type: "deviceConnected", time, deviceId: caller.deviceId, moduleId: caller.moduleId, protocol: info.protocol, authMethod: info.authMethod,
      ipAddress: info.client?.ipAddress, sdkVersion: info.client?.sdkVersion,
    });
    await this.#deps.recordConnectionState({ deviceId: caller.deviceId, moduleId: caller.moduleId }, true, time);
    this.#wake(key);
    return connection;
  }

  async #closed(connection: LiveConnection, reason: HubErrorName | undefined): Promise<void> {
    if (!connection.open) return;
    connection.open = false;
    const { caller, info, key } = connection;
    const current = this.#connections.get(key) === connection;
    if (current) this.#connections.delete(key);
    const time = this.#deps.clock.now();
    this.#deps.events.emit({
      type: "deviceDisconnected", time, deviceId: caller.deviceId, moduleId: caller.moduleId, protocol: info.protocol,
      reason: reason ?? "ClientDisconnect", code: reason === undefined ? undefined : codeOf(reason),
      authMethod: info.authMethod, ipAddress: info.client?.ipAddress,
    });
    // A displaced connection must not mark the identity disconnected: its successor is live.
    if (current) await this.#deps.recordConnectionState({ deviceId: caller.deviceId, moduleId: caller.moduleId }, false, time);
  }

  /** Closes the live connection of an identity (device disabled or deleted while connected). */
  disconnect(key: IdentityKey, reason: HubErrorName): void {
    const connection = this.#connections.get(keyOf(key.deviceId, key.moduleId));
    if (connection === undefined) return;
    connection.link.close(reason);
    void connection.closed(reason);
  }

  /** Closes every live connection of a device and its modules. */
  disconnectDevice(deviceId: string, reason: HubErrorName): void {
    for (const connection of [...this.#connections.values()]) {
      if (connection.caller.deviceId === deviceId) this.disconnect(connection.caller, reason);
    }
  }

  /**
   * The connection of an identity once it has subscribed to `kind`, waiting up to `timeoutMs` of hub time for it
   * to connect and subscribe (direct methods' connectTimeoutInSeconds); undefined if it does not in time.
   */
  waitForSubscriber(deviceId: string, moduleId: string, kind: DeviceSubscription, timeoutMs: number): Promise<DeviceConnection | undefined> {
    const key = keyOf(deviceId, moduleId);
    const ready = this.#connections.get(key);
    if (ready !== undefined && ready.link.subscribed(kind)) return Promise.resolve(ready);
    if (timeoutMs <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let set = this.#waiters.get(key);
      if (set === undefined) this.#waiters.set(key, (set = new Set()));
      const waiters = set;
      const timer = this.#deps.timers.after(timeoutMs, () => {
        waiters.delete(waiter);
        resolve(undefined);
      });
      const waiter: Waiter = {
        kind,
        resolve: (connection) => {
          timer.cancel();
          resolve(connection);
        },
      };
      waiters.add(waiter);
    });
  }

  #wake(key: string): void {
    const waiters = this.#waiters.get(key);
    const connection = this.#connections.get(key);
    if (waiters === undefined || connection === undefined) return;
    for (const waiter of [...waiters]) {
      if (!connection.link.subscribed(waiter.kind)) continue;
      waiters.delete(waiter);
      waiter.resolve(connection);
    }
    if (waiters.size === 0) this.#waiters.delete(key);
  }
}

function codeOf(reason: HubErrorName): number {
  return HUB_ERRORS[reason].code;
}
