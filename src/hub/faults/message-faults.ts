import { HubError, type HubErrorName } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import type { DeviceLink, DeviceLinkRole } from "../ports/device-link.js";
import type { IdentityKey } from "../ports/store.js";
import type { HubTimers } from "../timers/hub-timers.js";
import type { FaultRules } from "./fault-rules.js";

/** The application properties the SDKs' end-to-end suites put on a telemetry message to have the hub misbehave. */
export const FAULT_PROPERTIES = {
  type: "AzIoTHub_FaultOperationType",
  closeReason: "AzIoTHub_FaultOperationCloseReason",
  delay: "AzIoTHub_FaultOperationDelayInSecs",
  duration: "AzIoTHub_FaultOperationDurationInSecs",
} as const;

type Effect =
  | { readonly kind: "close" }
  | { readonly kind: "detach"; readonly role: DeviceLinkRole }
  | { readonly kind: "fail"; readonly error: HubErrorName };

/**
 * What each fault type does. The connection-level kills (and those of links that live on the connection rather than
 * the device, $cbs and the session) close the connection: Malachite gives each identity its own connection, as the
 * SDKs do, so the device sees the same thing — the transport goes down and its retry policy reconnects.
 */
const FAULT_TYPES: Readonly<Record<string, Effect>> = {
  KillTcp: { kind: "close" },
  KillAmqpConnection: { kind: "close" },
  KillAmqpSession: { kind: "close" },
  KillAmqpCBSLinkReq: { kind: "close" },
  KillAmqpCBSLinkResp: { kind: "close" },
  KillAmqpD2CLink: { kind: "detach", role: "d2c" },
  KillAmqpC2DLink: { kind: "detach", role: "c2d" },
  KillAmqpTwinLinkReq: { kind: "detach", role: "twinRequest" },
  KillAmqpTwinLinkResp: { kind: "detach", role: "twinResponse" },
  KillAmqpMethodReqLink: { kind: "detach", role: "methodRequest" },
  KillAmqpMethodRespLink: { kind: "detach", role: "methodResponse" },
  ShutDownAmqp: { kind: "close" },
  ShutDownMqtt: { kind: "close" },
  InvokeThrottling: { kind: "fail", error: "ThrottlingException" },
  InvokeMaxMessageQuota: { kind: "fail", error: "IotHubQuotaExceeded" },
  InvokeAuthError: { kind: "fail", error: "IotHubUnauthorizedAccess" },
};

export const MESSAGE_FAULT_TYPES = Object.keys(FAULT_TYPES);

// Our choices where the message leaves them out (decision 0012): act at once, and an Invoke* fault lasts 10 s.
const DEFAULT_DELAY_SECONDS = 0;
const DEFAULT_DURATION_SECONDS = 10;
const MAX_SECONDS = 3600;

export interface MessageFaultsDeps {
  readonly timers: HubTimers;
  readonly rules: FaultRules;
  /** The live link of an identity (Presence). */
  readonly find: (key: IdentityKey) => DeviceLink | undefined;
  readonly disconnect: (key: IdentityKey, reason: HubErrorName) => void;
}

/** Applies the `AzIoTHub_FaultOperation*` properties of telemetry messages to the sender's connection. */
export class MessageFaults {
  readonly #deps: MessageFaultsDeps;

  constructor(deps: MessageFaultsDeps) {
    this.#deps = deps;
  }

  /**
   * Reads a message's fault properties before it is stored: undefined when it has none, 400004 when they are not
   * valid (the message is then refused, so a typo is seen), else what to run once the message is accepted — the hub
   * accepts the message itself, as IoT Hub does, and the fault follows after the delay on the hub clock.
   */
  prepare(ctx: CallContext, properties: Readonly<Record<string, string>>): (() => void) | undefined {
    const type = properties[FAULT_PROPERTIES.type];
    const caller = ctx.caller;
    if (type === undefined || caller.kind !== "device") return undefined;
    const invalid = (message: string): HubError => new HubError("ArgumentInvalid", { trackingId: ctx.trackingId, message });
    const effect = Object.hasOwn(FAULT_TYPES, type) ? FAULT_TYPES[type] : undefined;
    if (effect === undefined) throw invalid(`Unknown ${FAULT_PROPERTIES.type} '${type}'; IoT Hub knows ${MESSAGE_FAULT_TYPES.join(", ")}`);
    const seconds = (name: string, fallback: number): number => {
      const text = properties[name];
      if (text === undefined) return fallback;
      const value = Number(text);
      if (text.trim() === "" || !Number.isFinite(value) || value < 0 || value > MAX_SECONDS) throw invalid(`${name} must be a number of seconds from 0 to ${MAX_SECONDS}; got '${text}'`);
      return value;
    };
    const delay = seconds(FAULT_PROPERTIES.delay, DEFAULT_DELAY_SECONDS);
    const duration = seconds(FAULT_PROPERTIES.duration, DEFAULT_DURATION_SECONDS);
    const key: IdentityKey = { deviceId: caller.deviceId, moduleId: caller.moduleId };
    if (effect.kind === "fail") {
      // The same engine as admin rules, scoped to the sender's own calls (any operation) for the duration.
      return () => {
        this.#deps.rules.addInternal({ error: effect.error, operation: "*", deviceId: key.deviceId, moduleId: key.moduleId, afterSeconds: delay, durationSeconds: duration });
      };
    }
    return () => {
      this.#deps.timers.after(delay * 1000, () => {
        if (effect.kind === "detach" && this.#deps.find(key)?.detach?.(effect.role, "DeviceConnectionClosedRemotely") === true) return;
        this.#deps.disconnect(key, "DeviceConnectionClosedRemotely");
      });
    };
  }
}
