import type { HubErrorName } from "../errors/index.js";

/** The pushes a device subscribes to (MQTT SUBSCRIBE, AMQP receiver links). */
export type DeviceSubscription = "c2d" | "desired" | "methods";

/** One link of a device's connection, for protocols with links (AMQP); named from the device's side. */
export type DeviceLinkRole = "d2c" | "c2d" | "twinRequest" | "twinResponse" | "methodRequest" | "methodResponse";

/** What the core needs from the gateway holding a device's connection: pushes towards the device. */
export interface DeviceLink {
  readonly protocol: "mqtt" | "amqp";
  /** Has the device subscribed to this kind of push on this connection? */
  subscribed(kind: DeviceSubscription): boolean;
  /** Cloud-to-device messages are waiting: the gateway pulls them with `hub.c2d.receive` while it can deliver. */
  c2dAvailable(): void;
  /** A desired-properties notification: the effective patch plus "$version". */
  sendDesiredPatch(patch: Readonly<Record<string, unknown>>): void;
  /** A direct-method request; the device answers through `hub.methods.respond` with the same request id. */
  sendMethodRequest(requestId: string, methodName: string, payload: Buffer): void;
  /** Closes the connection because of `reason` (e.g. 400027 when a newer connection takes over). */
  close(reason: HubErrorName): void;
  /**
   * Detaches one link with `reason` and leaves the connection up (fault injection: KillAmqp*Link); false when the
   * protocol has no such link, and then the caller closes the connection instead. Optional: MQTT has no links.
   */
  detach?(role: DeviceLinkRole, reason: HubErrorName): boolean;
}
