import { HubError, isHubError } from "../errors/index.js";
import type { CallContext, DeviceCaller } from "../call-context.js";
import type { HubEvents } from "../events/hub-event.js";
import type { Clock } from "../ports/clock.js";
import type { TelemetryLog, TelemetryRecord } from "../ports/telemetry-log.js";
import type { Presence } from "../presence/presence.js";
import type { HubLimits } from "../limits/hub-limits.js";
import type { FaultRules } from "../faults/fault-rules.js";
import type { MessageFaults } from "../faults/message-faults.js";
import { partitionOf } from "./partition-of.js";

export interface TelemetryDeps {
  readonly log: TelemetryLog;
  readonly clock: Clock;
  readonly presence: Presence;
  readonly events: HubEvents;
  readonly partitionCount: number;
  /** Tier limits: the D2C throttle and the daily quota (counted on ingress). */
  readonly hubLimits?: HubLimits;
  /** Fault injection (decision 0012): a rule that fires fails, delays or drops the call where it enters. */
  readonly faults?: FaultRules;
  /** The SDK e2e suites' `AzIoTHub_FaultOperation*` message properties. */
  readonly messageFaults?: MessageFaults;
}

export interface DeviceMessage {
  readonly body: Buffer;
  /** Application properties. */
  readonly properties: Readonly<Record<string, string>>;
  /** System properties the device set, by IoT Hub name (messageId, correlationId, contentType, …). */
  readonly systemProperties: Readonly<Record<string, string>>;
}

/** The credential of one call: `iothub-connection-auth-method` (rendered JSON) and the identity's generationId. */
export interface TelemetryCredential {
  readonly authMethod: string;
  readonly generationId: string;
}

// Learn, IoT Hub quotas: a device-to-cloud message is at most 256 KB, counting the body and the properties.
const MAX_MESSAGE = 256 * 1024;

function sizeOf(message: DeviceMessage): number {
  let size = message.body.length;
  for (const [k, v] of Object.entries(message.properties)) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  for (const v of Object.values(message.systemProperties)) size += Buffer.byteLength(v);
  return size;
}

/** Device-to-cloud telemetry: accepted messages are durably in the log before the device hears "accepted". */
export class Telemetry {
  readonly #deps: TelemetryDeps;

  constructor(deps: TelemetryDeps) {
    this.#deps = deps;
  }

  /**
   * Stamps IoT Hub's system properties and appends; resolves once the message is durable. `credential` is how this
   * very call authenticated, for connectionless protocols (HTTPS); without it, the device's live connection says.
   */
  async send(ctx: CallContext, message: DeviceMessage, credential?: TelemetryCredential): Promise<TelemetryRecord> {
    const caller = ctx.caller;
    if (caller.kind !== "device") throw new HubError("IotHubUnauthorizedAccess", { trackingId: ctx.trackingId, message: "Only devices and modules send telemetry" });
    const size = sizeOf(message);
    try {
      return await this.#send(ctx, caller, message, size, credential);
    } catch (error) {
      // The DeviceTelemetry resource log records refused messages (monitoring.md §2.2), never accepted ones.
      if (isHubError(error)) {
        const partition = partitionOf(caller.deviceId, this.#deps.partitionCount);
        this.#deps.events.emit({ type: "telemetryRefused", time: this.#deps.clock.now(), deviceId: caller.deviceId, moduleId: caller.moduleId, protocol: ctx.protocol, partition, sizeInBytes: size, error: error.errorName });
      }
      throw error;
    }
  }

  async #send(ctx: CallContext, caller: DeviceCaller, message: DeviceMessage, size: number, credential: TelemetryCredential | undefined): Promise<TelemetryRecord> {
    if (size > MAX_MESSAGE) {
      throw new HubError("MessageTooLarge", { trackingId: ctx.trackingId, message: `The message is ${size} bytes; a device-to-cloud message is at most ${MAX_MESSAGE} bytes` });
    }
    // Awaited only when a rule fires, so unfaulted telemetry keeps its single pass (MQTT pipelines its window).
    const faulted = this.#deps.faults?.enter(ctx, "d2c");
    if (faulted !== undefined) await faulted;
    const afterAccepted = this.#deps.messageFaults?.prepare(ctx, message.properties);
    await this.#deps.hubLimits?.admit(ctx, "d2cSend", size);
    const connection = credential ?? this.#deps.presence.find(caller.deviceId, caller.moduleId)?.info;
    const now = this.#deps.clock.now();
    const system: Record<string, string> = { ...message.systemProperties };
    system["iothub-connection-device-id"] = caller.deviceId;
    if (caller.moduleId !== "") system["iothub-connection-module-id"] = caller.moduleId;
    if (connection !== undefined) {
      system["iothub-connection-auth-method"] = connection.authMethod;
      system["iothub-connection-auth-generation-id"] = connection.generationId;
    }
    system["iothub-enqueuedtime"] = new Date(now).toISOString();
    system["iothub-message-source"] = "Telemetry";
    const partition = partitionOf(caller.deviceId, this.#deps.partitionCount);
    const [record] = await this.#deps.log.append([{ partition, enqueuedTime: now, body: message.body, properties: message.properties, systemProperties: system }]);
    this.#deps.events.emit({ type: "telemetryAccepted", time: now, deviceId: caller.deviceId, moduleId: caller.moduleId, partition, sizeInBytes: size });
    afterAccepted?.();
    return record!;
  }
}
