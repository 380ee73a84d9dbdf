import type { Right } from "./auth/rights.js";

/** A back-end caller authenticated with a shared access policy. */
export interface PolicyCaller {
  readonly kind: "policy";
  readonly policyName: string;
  readonly rights: readonly Right[];
}

/** A device or module authenticated with its own credentials. */
export interface DeviceCaller {
  readonly kind: "device";
  readonly deviceId: string;
  /** "" for the device itself. */
  readonly moduleId: string;
}

export type Caller = PolicyCaller | DeviceCaller;

/**
 * What the gateway saw of the client, passed on only so resource logs can show it as IoT Hub does (monitoring.md
 * §2: `maskedIpAddress`, `sdkVersion`); the core never decides anything on it.
 */
export interface ClientInfo {
  /** The peer's IP address as the socket reports it (unmasked; the resource log masks it). */
  readonly ipAddress?: string | undefined;
  /** A device SDK's user agent, or the api-version of a service call (what IoT Hub logs as `sdkVersion`). */
  readonly sdkVersion?: string | undefined;
}

/** First argument of every core operation: who calls, over what, and the tracking id of the call. */
export interface CallContext {
  readonly caller: Caller;
  readonly protocol: "https" | "mqtt" | "amqp" | "internal";
  readonly trackingId: string;
  readonly client?: ClientInfo | undefined;
}
